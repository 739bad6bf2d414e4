#include "weft/status.h"

namespace weft {

std::string_view code_name(Code c) {
  switch (c) {
    case Code::kOk: return "Ok";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kPeerFailed: return "PeerFailed";
    case Code::kRejected: return "Rejected";
    case Code::kTimeout: return "Timeout";
    case Code::kClosed: return "Closed";
    case Code::kRemoteAccess: return "RemoteAccess";
    case Code::kTruncated: return "Truncated";
    case Code::kIoError: return "IoError";
    case Code::kUnavailable: return "Unavailable";
    case Code::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "Ok";
  std::string s(code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace weft

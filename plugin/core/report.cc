#include "plugin/core/report.h"

#include <atomic>
#include <cstdio>

namespace weft::nccl {

namespace {
// ABI-forced process-wide state (see the header).
std::atomic<abi::ncclDebugLogger_t> g_logger{nullptr};
std::atomic<bool> g_verbose{false};
}  // namespace

void set_logger(abi::ncclDebugLogger_t logger) { g_logger.store(logger, std::memory_order_release); }
void set_verbose(bool on) { g_verbose.store(on, std::memory_order_relaxed); }

void warn(const char* file, int line, const std::string& msg) {
  if (auto log = g_logger.load(std::memory_order_acquire)) {
    log(abi::NCCL_LOG_WARN, abi::NCCL_ALL, file, line, "NET/weft: %s", msg.c_str());
  } else {
    std::fprintf(stderr, "NET/weft: %s (%s:%d)\n", msg.c_str(), file, line);
  }
}

void info(const char* func, int line, const std::string& msg) {
  auto log = g_logger.load(std::memory_order_acquire);
  // NCCL filters INFO by NCCL_DEBUG itself; without a logger, print only if asked.
  if (log != nullptr) {
    log(abi::NCCL_LOG_INFO, abi::NCCL_INIT | abi::NCCL_NET, func, line, "NET/weft: %s", msg.c_str());
  } else if (g_verbose.load(std::memory_order_relaxed)) {
    std::fprintf(stderr, "NET/weft: %s\n", msg.c_str());
  }
}

ncclResult_t to_nccl(Code code) {
  switch (code) {
    case Code::kOk: return abi::ncclSuccess;
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kAlreadyExists: return abi::ncclInvalidArgument;
    case Code::kTruncated: return abi::ncclInvalidUsage;
    case Code::kPeerFailed:
    case Code::kRejected:
    case Code::kTimeout:
    case Code::kClosed:
    case Code::kRemoteAccess: return abi::ncclRemoteError;
    case Code::kResourceExhausted:
    case Code::kIoError:
    case Code::kUnavailable: return abi::ncclSystemError;
    case Code::kFailedPrecondition:
    case Code::kInternal: return abi::ncclInternalError;
  }
  return abi::ncclInternalError;
}

}  // namespace weft::nccl

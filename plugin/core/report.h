// plugin/core/report.h — messages go to NCCL's logger; weft Status codes
// become NCCL result codes.
//
// The logger arrives in init and is used by every later call, including ones
// with no context argument (v6–v10), so it is kept process-wide: state the
// ABI forces on us. It is one atomic pointer, swapped at init.
#pragma once

#include <string>

#include "plugin/abi/nccl_net_common.h"
#include "weft/status.h"

namespace weft::nccl {

using abi::ncclResult_t;

void set_logger(abi::ncclDebugLogger_t logger);
void set_verbose(bool on);  // copy INFO lines too (WEFT_DEBUG >= 1)

void warn(const char* file, int line, const std::string& msg);
void info(const char* func, int line, const std::string& msg);

// NCCL's code for a weft failure: peers that vanish are ncclRemoteError, the
// OS refusing is ncclSystemError, arguments that can never work are
// ncclInvalidArgument, a message larger than its receive is ncclInvalidUsage.
ncclResult_t to_nccl(Code code);

}  // namespace weft::nccl

// Warns with the call site and evaluates to `code`: `return WEFT_NCCL_FAIL(...)`.
// The return stays visible at the call site (STYLE: no hidden returns).
#define WEFT_NCCL_FAIL(code, msg) (::weft::nccl::warn(__FILE__, __LINE__, (msg)), (code))
#define WEFT_NCCL_FAIL_STATUS(status, context)                                          \
  (::weft::nccl::warn(__FILE__, __LINE__, std::string(context) + ": " + (status).to_string()), \
   ::weft::nccl::to_nccl((status).code()))
#define WEFT_NCCL_INFO(msg) ::weft::nccl::info(__func__, __LINE__, (msg))

#include "status.h"

#include <cstdio>
#include <string>

namespace ln4j {
namespace {
thread_local std::string tls_message;
}

int fail(int status, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  tls_message.assign(buf);
  return status;
}

void clear_error() { tls_message.clear(); }
const char* last_error() { return tls_message.c_str(); }

}  // namespace ln4j

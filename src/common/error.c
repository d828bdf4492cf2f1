/* The error model: names, descriptions and gRPC statuses from CHUTE_ERRNO_MAP. */
#include <chute/chute.h>

#include <stdarg.h>
#include <stdio.h>

const char *chute_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define X(name, value, grpc, http, title, desc)                                                    \
    case value:                                                                                    \
        return desc;
        CHUTE_ERRNO_MAP(X)
#undef X
    }
    return "unknown error";
}

const char *chute_err_name(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define X(name, value, grpc, http, title, desc)                                                    \
    case value:                                                                                    \
        return #name;
        CHUTE_ERRNO_MAP(X)
#undef X
    }
    return "EUNKNOWN";
}

int chute_err_grpc_status(int code)
{
    switch (code) {
    case 0:
        return CHUTE_GRPC_OK;
#define X(name, value, grpc, http, title, desc)                                                    \
    case value:                                                                                    \
        return CHUTE_GRPC_##grpc;
        CHUTE_ERRNO_MAP(X)
#undef X
    }
    return CHUTE_GRPC_UNKNOWN;
}

int chute_error_set(chute_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

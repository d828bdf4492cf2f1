/*
 * The error table (CHUTE_ERRNO_MAP and CHUTE_GRPC_STATUS_MAP in
 * <chute/chute.h>) and everything generated from it: the gRPC status of a
 * code (chute_err_grpc_status), its REST answer (rest_http_status,
 * rest_problem_title), the transport's H2_GRPC_* constants and the client's
 * reading of a gRPC status (ctransport_grpc_to_chute). The expected rows are
 * written out here so that a change to the table shows up as a failing test.
 */
#include "client/transport.h"
#include "rest.h"
#include "server/h2.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const struct {
    int code;
    int grpc;
    int http;
    const char *title;
} expected[] = {
    {0, 0, 200, "INTERNAL_ERROR"},
    {CHUTE_EINVAL, 3, 400, "INVALID_ARGUMENT"},
    {CHUTE_ENOTFOUND, 5, 404, "NOT_FOUND"},
    {CHUTE_ESTATE, 9, 409, "INVALID_STATE"},
    {CHUTE_EEXIST, 6, 409, "ALREADY_EXISTS"},
    {CHUTE_ENOMEM, 8, 503, "RESOURCE_EXHAUSTED"},
    {CHUTE_ESTORE, 14, 503, "UNAVAILABLE"},
    {CHUTE_ECORRUPT, 13, 500, "INTERNAL_ERROR"},
    {CHUTE_ETOOBIG, 8, 413, "PAYLOAD_TOO_LARGE"},
    {CHUTE_EBUSY, 8, 503, "RESOURCE_EXHAUSTED"},
    {CHUTE_EIO, 14, 503, "UNAVAILABLE"},
    {CHUTE_ECLOSED, 14, 503, "UNAVAILABLE"},
    {CHUTE_ETIMEDOUT, 4, 504, "DEADLINE_EXCEEDED"},
    {CHUTE_EUNAVAIL, 14, 503, "UNAVAILABLE"},
    {CHUTE_EUNIMPL, 12, 501, "NOT_IMPLEMENTED"},
    {CHUTE_EINTERNAL, 13, 500, "INTERNAL_ERROR"},
    {CHUTE_EPERM, 7, 403, "FORBIDDEN"},
    /* Not codes: UNKNOWN, an internal error. */
    {-17, 2, 500, "INTERNAL_ERROR"},
    {-999, 2, 500, "INTERNAL_ERROR"},
    {1, 2, 500, "INTERNAL_ERROR"},
};

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        int c = expected[i].code;
        if (chute_err_grpc_status(c) != expected[i].grpc ||
            rest_http_status(c) != expected[i].http ||
            strcmp(rest_problem_title(c), expected[i].title) != 0)
            fail_msg("%s (%d): grpc %d, http %d, title %s; expected %d, %d, %s", chute_err_name(c),
                     c, chute_err_grpc_status(c), rest_http_status(c), rest_problem_title(c),
                     expected[i].grpc, expected[i].http, expected[i].title);
    }
    /* Every code of the table is in the list above. */
    size_t n = 0;
#define X(name, value, grpc, http, title, desc) n++;
    CHUTE_ERRNO_MAP(X)
#undef X
    assert_int_equal(n + 4, sizeof expected / sizeof expected[0]);
}

static void test_client_reading(void **state)
{
    (void)state;
    static const int want[17] = {
        0,
        CHUTE_EUNAVAIL,
        CHUTE_EINTERNAL,
        CHUTE_EINVAL,
        CHUTE_ETIMEDOUT,
        CHUTE_ENOTFOUND,
        CHUTE_EEXIST,
        CHUTE_EPERM,
        CHUTE_EBUSY,
        CHUTE_ESTATE,
        CHUTE_ESTATE,
        CHUTE_EINVAL,
        CHUTE_EUNIMPL,
        CHUTE_EINTERNAL,
        CHUTE_EUNAVAIL,
        CHUTE_ECORRUPT,
        CHUTE_EPERM,
    };
    for (int s = 0; s <= 16; s++)
        assert_int_equal(ctransport_grpc_to_chute(s), want[s]);
    assert_int_equal(ctransport_grpc_to_chute(-1), CHUTE_EINTERNAL);
    assert_int_equal(ctransport_grpc_to_chute(17), CHUTE_EINTERNAL);
    assert_int_equal(ctransport_grpc_to_chute(99), CHUTE_EINTERNAL);
}

/* What a server sends for a code, a client reads as a code with the same
 * gRPC status: the two directions of the table agree. */
static void test_round_trip(void **state)
{
    (void)state;
#define X(name, value, grpc, http, title, desc)                                                    \
    assert_int_equal(                                                                              \
        chute_err_grpc_status(ctransport_grpc_to_chute(chute_err_grpc_status(value))),             \
        chute_err_grpc_status(value));
    CHUTE_ERRNO_MAP(X)
#undef X
    /* And each status a server sends comes back to the one code it is
     * read as (several codes share a status; the client names one). */
#define X(name, value, client)                                                                     \
    if (client != 0 && chute_err_grpc_status(client) == value)                                     \
        assert_int_equal(ctransport_grpc_to_chute(value), client);
    CHUTE_GRPC_STATUS_MAP(X)
#undef X
    assert_int_equal(ctransport_grpc_to_chute(chute_err_grpc_status(0)), 0);
}

static void test_transport_constants(void **state)
{
    (void)state;
    assert_int_equal(H2_GRPC_OK, 0);
    assert_int_equal(H2_GRPC_CANCELLED, 1);
    assert_int_equal(H2_GRPC_UNKNOWN, 2);
    assert_int_equal(H2_GRPC_INVALID_ARGUMENT, 3);
    assert_int_equal(H2_GRPC_DEADLINE_EXCEEDED, 4);
    assert_int_equal(H2_GRPC_NOT_FOUND, 5);
    assert_int_equal(H2_GRPC_RESOURCE_EXHAUSTED, 8);
    assert_int_equal(H2_GRPC_FAILED_PRECONDITION, 9);
    assert_int_equal(H2_GRPC_UNIMPLEMENTED, 12);
    assert_int_equal(H2_GRPC_INTERNAL, 13);
    assert_int_equal(H2_GRPC_UNAVAILABLE, 14);
    assert_int_equal(H2_GRPC_UNAUTHENTICATED, 16);
    assert_int_equal(ctransport_http_to_grpc(400), H2_GRPC_INTERNAL);
    assert_int_equal(ctransport_http_to_grpc(401), H2_GRPC_UNAUTHENTICATED);
    assert_int_equal(ctransport_http_to_grpc(403), H2_GRPC_PERMISSION_DENIED);
    assert_int_equal(ctransport_http_to_grpc(404), H2_GRPC_UNIMPLEMENTED);
    assert_int_equal(ctransport_http_to_grpc(429), H2_GRPC_UNAVAILABLE);
    assert_int_equal(ctransport_http_to_grpc(500), H2_GRPC_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_client_reading),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_transport_constants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

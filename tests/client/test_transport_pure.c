/* Unit tests of the transport's pure helpers: addresses, grpc-timeout,
 * status mapping, option checks. No daemon needed. */
#include "client/transport.h"

#include <chute/worker.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_parse_address(void **state)
{
    char host[64];
    int port;
    chute_error err;
    assert_int_equal(ctransport_parse_address("127.0.0.1:26500", host, sizeof host, &port, &err),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 26500);
    assert_int_equal(ctransport_parse_address("localhost", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 26500);
    assert_int_equal(ctransport_parse_address("[::1]:80", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 80);
    assert_int_equal(ctransport_parse_address("h:0", host, sizeof host, &port, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "port"));
    assert_int_equal(ctransport_parse_address("h:x", host, sizeof host, &port, &err), CHUTE_EINVAL);
    assert_int_equal(ctransport_parse_address("::1:80", host, sizeof host, &port, &err),
                     CHUTE_EINVAL);
    assert_int_equal(ctransport_parse_address("", host, sizeof host, &port, &err), CHUTE_EINVAL);
    assert_int_equal(ctransport_parse_address(":80", host, sizeof host, &port, &err), CHUTE_EINVAL);
}

static void test_grpc_timeout(void **state)
{
    char b[32];
    ctransport_grpc_timeout(1500, b, sizeof b);
    assert_string_equal(b, "1500m");
    ctransport_grpc_timeout(0, b, sizeof b);
    assert_string_equal(b, "1m");
    ctransport_grpc_timeout(100000000, b, sizeof b);
    assert_string_equal(b, "100000S");
}

static void test_status_mapping(void **state)
{
    assert_int_equal(ctransport_grpc_to_chute(0), 0);
    assert_int_equal(ctransport_grpc_to_chute(3), CHUTE_EINVAL);
    assert_int_equal(ctransport_grpc_to_chute(4), CHUTE_ETIMEDOUT);
    assert_int_equal(ctransport_grpc_to_chute(5), CHUTE_ENOTFOUND);
    assert_int_equal(ctransport_grpc_to_chute(6), CHUTE_EEXIST);
    assert_int_equal(ctransport_grpc_to_chute(8), CHUTE_EBUSY);
    assert_int_equal(ctransport_grpc_to_chute(9), CHUTE_ESTATE);
    assert_int_equal(ctransport_grpc_to_chute(12), CHUTE_EUNIMPL);
    assert_int_equal(ctransport_grpc_to_chute(13), CHUTE_EINTERNAL);
    assert_int_equal(ctransport_grpc_to_chute(14), CHUTE_EUNAVAIL);
    assert_int_equal(ctransport_grpc_to_chute(99), CHUTE_EINTERNAL);
    assert_int_equal(ctransport_http_to_grpc(404), 12);
    assert_int_equal(ctransport_http_to_grpc(503), 14);
    /* the reverse map of chute.h agrees for the codes a server sends */
    int codes[] = {CHUTE_EINVAL,   CHUTE_ENOTFOUND, CHUTE_ESTATE,    CHUTE_EEXIST, CHUTE_ETIMEDOUT,
                   CHUTE_EUNAVAIL, CHUTE_EUNIMPL,   CHUTE_EINTERNAL, CHUTE_EPERM,  CHUTE_EBUSY};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        assert_int_equal(ctransport_grpc_to_chute(chute_err_grpc_status(codes[i])), codes[i]);
}

static void test_open_rejects(void **state)
{
    chute_client *c = NULL;
    chute_client_options o;
    chute_error err;
    chute_client_options_init(&o);
    o.tls = 1;
    assert_int_equal(chute_client_open(&c, "127.0.0.1:1", &o, &err), CHUTE_EUNIMPL);
    assert_null(c);
    assert_int_equal(chute_client_open(&c, "nohost:", NULL, &err), CHUTE_EINVAL);
    assert_null(c);
}

static void test_unreachable(void **state)
{
    /* Port 1 on loopback refuses: the call fails fast with EUNAVAIL and a
     * message that names the address; the client stays usable. */
    chute_client *c;
    chute_error err;
    assert_int_equal(chute_client_open(&c, "127.0.0.1:1", NULL, &err), 0);
    for (int i = 0; i < 2; i++) {
        int r = chute_client_complete_job(c, 1, NULL, NULL, &err);
        assert_int_equal(r, CHUTE_EUNAVAIL);
        assert_non_null(strstr(err.message, "127.0.0.1:1"));
    }
    chute_client_close(c);
}

static void test_worker_option_checks(void **state)
{
    chute_client *c;
    chute_error err;
    chute_worker *w = NULL;
    chute_worker_options o;
    assert_int_equal(chute_client_open(&c, "127.0.0.1:1", NULL, &err), 0);
    chute_worker_options_init(&o);
    assert_int_equal(chute_worker_open(&w, c, &o, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "type"));
    o.type = "t";
    assert_int_equal(chute_worker_open(&w, c, &o, &err), CHUTE_EINVAL);
    assert_non_null(strstr(err.message, "handler"));
    assert_null(w);
    chute_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_address),  cmocka_unit_test(test_grpc_timeout),
        cmocka_unit_test(test_status_mapping), cmocka_unit_test(test_open_rejects),
        cmocka_unit_test(test_unreachable),    cmocka_unit_test(test_worker_option_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

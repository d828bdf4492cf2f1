/*
 * The gRPC frame reader's options (src/codec/grpc_frame.h): messages held in
 * the reader's own buffer, a budget shared by several readers, the prefix
 * hook, and where a reader stands in its stream. chuted's transport reads
 * requests with all of them; the client reads the progress for its flow
 * control. The plain reader is covered by test_codec.c.
 */
#include "grpc_frame.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void framed(uint8_t *out, int flag, const char *payload, uint32_t len)
{
    codec_frame_write_prefix(out, flag, len);
    out[0] = (uint8_t)flag;
    if (payload)
        memcpy(out + CODEC_FRAME_PREFIX, payload, len);
}

static void test_hold_copies(void **state)
{
    (void)state;
    uint8_t in[5 + 3];
    framed(in, 0, "abc", 3);
    codec_frame_reader r;
    codec_frame_reader_opts o = {.hold = 1};
    codec_frame_reader_init_opts(&r, &o);
    codec_frame m;
    size_t used;
    assert_int_equal(codec_frame_reader_feed(&r, in, sizeof in, &used, &m, NULL), 1);
    assert_int_equal(used, sizeof in);
    assert_int_equal(m.len, 3);
    assert_true(m.data < in || m.data >= in + sizeof in); /* not into the input */
    memset(in, 0, sizeof in);
    assert_memory_equal(m.data, "abc", 3);
    assert_int_equal(r.cap, 3); /* exactly the message */
    codec_frame_reader_free(&r);

    /* An empty message needs no buffer, held or not. */
    framed(in, 0, NULL, 0);
    codec_frame_reader_init_opts(&r, &o);
    assert_int_equal(codec_frame_reader_feed(&r, in, 5, &used, &m, NULL), 1);
    assert_int_equal(m.len, 0);
    assert_non_null(m.data);
    assert_int_equal(r.cap, 0);
    codec_frame_reader_free(&r);
}

static void test_first_alloc(void **state)
{
    (void)state;
    static uint8_t in[5 + 100000];
    codec_frame_write_prefix(in, 0, 100000);
    codec_frame_reader r;
    codec_frame_reader_opts o = {.first_alloc = 16384};
    codec_frame_reader_init_opts(&r, &o);
    codec_frame m;
    size_t used;
    assert_int_equal(codec_frame_reader_feed(&r, in, 5 + 10, &used, &m, NULL), 0);
    assert_int_equal(r.cap, 16384);
    assert_int_equal(codec_frame_reader_feed(&r, in + 15, 20000, &used, &m, NULL), 0);
    assert_int_equal(r.cap, 32768);
    assert_int_equal(codec_frame_reader_feed(&r, in + 20015, sizeof in - 20015, &used, &m, NULL),
                     1);
    assert_int_equal(r.cap, 100000); /* never past the message */
    codec_frame_reader_free(&r);
}

static void test_budget(void **state)
{
    (void)state;
    static uint8_t a[5 + 600], b[5 + 600];
    codec_frame_write_prefix(a, 0, 600);
    codec_frame_write_prefix(b, 0, 600);
    codec_frame_budget budget = {.used = 0, .max = 1000};
    codec_frame_reader_opts o = {.first_alloc = 100, .budget = &budget};
    codec_frame_reader ra, rb;
    codec_frame_reader_init_opts(&ra, &o);
    codec_frame_reader_init_opts(&rb, &o);
    codec_frame m;
    size_t used;
    chute_error err;

    assert_int_equal(codec_frame_reader_feed(&ra, a, 5 + 599, &used, &m, NULL), 0);
    assert_int_equal(budget.used, ra.cap);
    assert_int_equal(budget.used, 599);
    assert_int_equal(codec_frame_reader_feed(&rb, b, 5 + 50, &used, &m, NULL), 0);
    assert_int_equal(budget.used, 699);
    /* rb would grow from 100 to 600: 599 + 600 > 1000. */
    assert_int_equal(codec_frame_reader_feed(&rb, b + 55, 550, &used, &m, &err), CHUTE_EBUSY);
    assert_int_equal(err.code, CHUTE_EBUSY);
    assert_int_equal(budget.used, 699); /* nothing grew */
    assert_int_equal(codec_frame_reader_feed(&rb, b + 55, 1, &used, &m, NULL), CHUTE_EBUSY);
    codec_frame_reader_free(&rb);
    assert_int_equal(budget.used, 599);
    assert_int_equal(codec_frame_reader_feed(&ra, a + 604, 1, &used, &m, NULL), 1);
    assert_int_equal(m.len, 600);
    codec_frame_reader_free(&ra);
    assert_int_equal(budget.used, 0);

    /* Others may count in the budget too; a whole message in one chunk is
     * not buffered and so not counted, unless the reader holds it. */
    budget.used = 500;
    codec_frame_reader_init_opts(&ra, &o);
    assert_int_equal(codec_frame_reader_feed(&ra, a, sizeof a, &used, &m, NULL), 1);
    assert_int_equal(budget.used, 500);
    codec_frame_reader_free(&ra);
    o.hold = 1;
    codec_frame_reader_init_opts(&ra, &o);
    assert_int_equal(codec_frame_reader_feed(&ra, a, sizeof a, &used, &m, NULL), CHUTE_EBUSY);
    codec_frame_reader_free(&ra);
    assert_int_equal(budget.used, 500);
}

typedef struct seen {
    int calls;
    unsigned flags;
    uint32_t length;
    int answer;
} seen;

static int on_prefix(void *ud, unsigned flags, uint32_t length, chute_error *err)
{
    seen *s = ud;
    s->calls++;
    s->flags = flags;
    s->length = length;
    if (s->answer)
        return chute_error_set(err, s->answer, "refused by the hook");
    return 0;
}

static void test_prefix_hook(void **state)
{
    (void)state;
    uint8_t in[5 + 3];
    framed(in, 0, "abc", 3);
    seen s = {0};
    codec_frame_reader r;
    codec_frame_reader_opts o = {.max_message = 2, .on_prefix = on_prefix, .ud = &s};
    codec_frame m;
    size_t used;
    chute_error err;

    /* The hook sees the prefix first; the reader's own bound follows. */
    codec_frame_reader_init_opts(&r, &o);
    assert_int_equal(codec_frame_reader_feed(&r, in, sizeof in, &used, &m, &err), CHUTE_ETOOBIG);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.length, 3);
    codec_frame_reader_free(&r);

    /* A flag byte the reader would refuse reaches the hook as sent, and
     * the hook's error is the feed's, sticky. */
    o.max_message = 0;
    s = (seen){.answer = CHUTE_EINVAL};
    in[0] = 7;
    codec_frame_reader_init_opts(&r, &o);
    assert_int_equal(codec_frame_reader_feed(&r, in, 2, &used, &m, &err), 0);
    assert_int_equal(s.calls, 0);
    assert_int_equal(codec_frame_reader_feed(&r, in + 2, 6, &used, &m, &err), CHUTE_EINVAL);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.flags, 7);
    assert_string_equal(err.message, "refused by the hook");
    assert_int_equal(codec_frame_reader_feed(&r, in, 1, &used, &m, &err), CHUTE_EINVAL);
    assert_int_equal(s.calls, 1);
    codec_frame_reader_free(&r);
}

static void test_progress(void **state)
{
    (void)state;
    uint8_t in[2 * (5 + 3)];
    framed(in, 0, "abc", 3);
    framed(in + 8, 0, "def", 3);
    codec_frame_reader r;
    codec_frame_reader_init(&r, 0);
    codec_frame m;
    size_t used, ph, have, length;
    static const size_t want_ph[] = {1, 2, 3, 4, 5, 5, 5, 0};
    static const size_t want_have[] = {0, 0, 0, 0, 0, 1, 2, 0};
    int messages = 0;
    for (size_t i = 0; i < sizeof in; i++) {
        messages += codec_frame_reader_feed(&r, in + i, 1, &used, &m, NULL);
        codec_frame_reader_progress(&r, &ph, &have, &length);
        assert_int_equal(ph, want_ph[i % 8]);
        assert_int_equal(have, want_have[i % 8]);
        assert_int_equal(length, ph == CODEC_FRAME_PREFIX ? 3 : 0);
    }
    assert_int_equal(messages, 2);
    codec_frame_reader_progress(&r, NULL, NULL, NULL);
    codec_frame_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_copies), cmocka_unit_test(test_first_alloc),
        cmocka_unit_test(test_budget),      cmocka_unit_test(test_prefix_hook),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

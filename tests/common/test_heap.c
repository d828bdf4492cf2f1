/* Unit tests for src/common/heap: random push/pop/remove/update checked
 * against a reference kept in a plain array, with the members' stored
 * positions verified after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/heap.h"

typedef struct item {
    int64_t prio;   /* smaller first */
    uint64_t seq;   /* tie-break: smaller first (FIFO) */
    uint32_t pos;
    int in;
} item;

static int before(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->prio != y->prio)
        return x->prio < y->prio;
    return x->seq < y->seq;
}

static uint32_t *pos_of(void *p)
{
    return &((item *)p)->pos;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The heap property, positions and membership. */
static void check(const heap *h, item *items, size_t n)
{
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].in) {
            live++;
            assert_true(items[i].pos < h->count);
            assert_ptr_equal(h->items[items[i].pos], &items[i]);
        } else {
            assert_int_equal(items[i].pos, HEAP_NONE);
        }
    }
    assert_int_equal(h->count, live);
    for (uint32_t i = 1; i < h->count; i++)
        assert_false(before(h->items[i], h->items[(i - 1) / 2]));
}

static item *ref_min(item *items, size_t n)
{
    item *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (items[i].in && (!best || before(&items[i], best)))
            best = &items[i];
    return best;
}

static void test_empty(void **state)
{
    (void)state;
    heap h;
    heap_init(&h, before, pos_of);
    assert_null(heap_top(&h));
    assert_null(heap_pop(&h));
    heap_free(&h);
}

static void test_sorted_output(void **state)
{
    (void)state;
    enum { N = 5000 };
    item *items = calloc(N, sizeof *items);
    assert_non_null(items);
    heap h;
    heap_init(&h, before, pos_of);
    for (size_t i = 0; i < N; i++) {
        items[i].prio = (int64_t)(rnd() % 50); /* many ties */
        items[i].seq = i;
        items[i].pos = HEAP_NONE;
        assert_int_equal(heap_push(&h, &items[i]), 0);
        items[i].in = 1;
    }
    check(&h, items, N);
    const item *prev = NULL;
    for (size_t i = 0; i < N; i++) {
        item *top = heap_top(&h);
        item *got = heap_pop(&h);
        assert_ptr_equal(got, top);
        assert_non_null(got);
        got->in = 0;
        assert_int_equal(got->pos, HEAP_NONE);
        if (prev)
            assert_true(before(prev, got)); /* strictly increasing (prio, seq) */
        prev = got;
    }
    assert_null(heap_pop(&h));
    heap_free(&h);
    free(items);
}

static void test_random_ops(void **state)
{
    (void)state;
    enum { N = 600 };
    item *items = calloc(N, sizeof *items);
    assert_non_null(items);
    for (size_t i = 0; i < N; i++)
        items[i].pos = HEAP_NONE;
    heap h;
    heap_init(&h, before, pos_of);
    uint64_t seq = 0;
    for (int op = 0; op < 200000; op++) {
        size_t i = rnd() % N;
        item *it = &items[i];
        switch (rnd() % 5) {
        case 0: /* push */
        case 1:
            if (!it->in) {
                it->prio = (int64_t)(rnd() % 100) - 50;
                it->seq = seq++;
                assert_int_equal(heap_push(&h, it), 0);
                it->in = 1;
            }
            break;
        case 2: { /* pop */
            item *want = ref_min(items, N);
            item *got = heap_pop(&h);
            assert_ptr_equal(got, want);
            if (got)
                got->in = 0;
            break;
        }
        case 3: /* remove an arbitrary member */
            if (it->in) {
                heap_remove(&h, it);
                it->in = 0;
            }
            break;
        case 4: /* re-key a member up or down */
            if (it->in) {
                it->prio = (int64_t)(rnd() % 100) - 50;
                it->seq = seq++;
                heap_update(&h, it);
            }
            break;
        }
        assert_ptr_equal(heap_top(&h), ref_min(items, N));
        if (op % 499 == 0)
            check(&h, items, N);
    }
    check(&h, items, N);
    heap_free(&h);
    free(items);
}

static void test_reserve(void **state)
{
    (void)state;
    heap h;
    heap_init(&h, before, pos_of);
    assert_int_equal(heap_reserve(&h, 1000), 0);
    assert_true(h.cap >= 1000);
    assert_int_equal(h.count, 0);
    item it = {.prio = 1, .pos = HEAP_NONE};
    assert_int_equal(heap_push(&h, &it), 0);
    heap_remove(&h, &it);
    assert_int_equal(it.pos, HEAP_NONE);
    assert_int_equal(h.count, 0);
    heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_sorted_output),
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_reserve),
    };
    return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}

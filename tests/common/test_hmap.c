/* Unit tests for src/common/hmap: put/get/del with many keys, and random
 * operations checked against a plain reference array (this exercises the
 * backward-shift deletion across wrap-around and long probe runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/hmap.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define VAL(k) ((void *)(uintptr_t)(((uint64_t)(k) * 2654435761u) | 1u))

static void test_empty(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    assert_null(hmap_get(&m, 1));
    assert_null(hmap_del(&m, 1));
    assert_int_equal(m.count, 0);
    hmap_free(&m);
    hmap_free(&m); /* idempotent after free: init state */
}

static void test_put_get_del_many(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    const int64_t base = (int64_t)1 << 51;
    const int n = 100000;
    for (int i = 1; i <= n; i++)
        assert_int_equal(hmap_put(&m, base + i, VAL(base + i)), 0);
    assert_int_equal(m.count, n);
    /* Load stays under 3/4. */
    assert_true(m.count * 4 <= (m.mask + 1) * 3);
    for (int i = 1; i <= n; i++)
        assert_ptr_equal(hmap_get(&m, base + i), VAL(base + i));
    assert_null(hmap_get(&m, base));
    assert_null(hmap_get(&m, base + n + 1));
    /* Replace keeps the count. */
    assert_int_equal(hmap_put(&m, base + 5, VAL(7)), 0);
    assert_int_equal(m.count, n);
    assert_ptr_equal(hmap_get(&m, base + 5), VAL(7));
    assert_int_equal(hmap_put(&m, base + 5, VAL(base + 5)), 0);
    /* Delete the odd ones. */
    for (int i = 1; i <= n; i += 2)
        assert_ptr_equal(hmap_del(&m, base + i), VAL(base + i));
    assert_int_equal(m.count, n / 2);
    for (int i = 1; i <= n; i++) {
        if (i % 2)
            assert_null(hmap_get(&m, base + i));
        else
            assert_ptr_equal(hmap_get(&m, base + i), VAL(base + i));
    }
    assert_null(hmap_del(&m, base + 1));
    for (int i = 2; i <= n; i += 2)
        assert_ptr_equal(hmap_del(&m, base + i), VAL(base + i));
    assert_int_equal(m.count, 0);
    for (size_t i = 0; m.slots && i <= m.mask; i++)
        assert_int_equal(m.slots[i].key, 0);
    hmap_free(&m);
}

/* Every stored key is reachable from its probe start and the table holds
 * exactly the reference set. */
static void check_against(const hmap *m, const int64_t *keys, void *const *vals, size_t n)
{
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (vals[i]) {
            live++;
            assert_ptr_equal(hmap_get(m, keys[i]), vals[i]);
        } else {
            assert_null(hmap_get(m, keys[i]));
        }
    }
    assert_int_equal(m->count, live);
    size_t occupied = 0;
    for (size_t i = 0; m->slots && i <= m->mask; i++)
        if (m->slots[i].key != 0)
            occupied++;
    assert_int_equal(occupied, live);
}

static void random_ops(int64_t (*make_key)(size_t i), size_t universe, int ops)
{
    hmap m;
    hmap_init(&m);
    int64_t *keys = calloc(universe, sizeof *keys);
    void **vals = calloc(universe, sizeof *vals);
    assert_non_null(keys);
    assert_non_null(vals);
    for (size_t i = 0; i < universe; i++)
        keys[i] = make_key(i);
    for (int op = 0; op < ops; op++) {
        size_t i = rnd() % universe;
        uint64_t r = rnd() % 10;
        if (r < 5) {
            void *v = (void *)(uintptr_t)((rnd() << 1) | 1u);
            assert_int_equal(hmap_put(&m, keys[i], v), 0);
            vals[i] = v;
        } else if (r < 9) {
            void *got = hmap_del(&m, keys[i]);
            assert_ptr_equal(got, vals[i]);
            vals[i] = NULL;
        } else {
            assert_ptr_equal(hmap_get(&m, keys[i]), vals[i]);
        }
        if (op % 997 == 0)
            check_against(&m, keys, vals, universe);
    }
    check_against(&m, keys, vals, universe);
    /* Drain in random order. */
    for (size_t i = 0; i < universe; i++) {
        size_t j = (i * 7919) % universe;
        assert_ptr_equal(hmap_del(&m, keys[j]), vals[j]);
        vals[j] = NULL;
        if (i % 101 == 0)
            check_against(&m, keys, vals, universe);
    }
    assert_int_equal(m.count, 0);
    free(keys);
    free(vals);
    hmap_free(&m);
}

static int64_t seq_key(size_t i)
{
    return ((int64_t)1 << 51) + (int64_t)i + 1;
}

static int64_t wide_key(size_t i)
{
    (void)i;
    int64_t k;
    do {
        k = (int64_t)rnd();
    } while (k == 0);
    return k;
}

static int64_t strided_key(size_t i)
{
    /* Multiples of a large power of two collide heavily in weak hashes. */
    return (int64_t)(i + 1) << 20;
}

static void test_random_sequential_keys(void **state)
{
    (void)state;
    random_ops(seq_key, 3000, 300000);
}

static void test_random_wide_keys(void **state)
{
    (void)state;
    random_ops(wide_key, 2000, 200000);
}

static void test_random_strided_keys(void **state)
{
    (void)state;
    random_ops(strided_key, 1500, 200000);
}

static void test_small_table_churn(void **state)
{
    (void)state;
    /* Few keys, table stays at its minimum size: many wrap-arounds. */
    random_ops(wide_key, 40, 200000);
}

static void test_negative_keys(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    assert_int_equal(hmap_put(&m, -1, VAL(1)), 0);
    assert_int_equal(hmap_put(&m, INT64_MIN, VAL(2)), 0);
    assert_int_equal(hmap_put(&m, INT64_MAX, VAL(3)), 0);
    assert_ptr_equal(hmap_get(&m, -1), VAL(1));
    assert_ptr_equal(hmap_get(&m, INT64_MIN), VAL(2));
    assert_ptr_equal(hmap_get(&m, INT64_MAX), VAL(3));
    assert_ptr_equal(hmap_del(&m, INT64_MIN), VAL(2));
    assert_null(hmap_get(&m, INT64_MIN));
    assert_int_equal(m.count, 2);
    hmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_put_get_del_many),
        cmocka_unit_test(test_random_sequential_keys),
        cmocka_unit_test(test_random_wide_keys),
        cmocka_unit_test(test_random_strided_keys),
        cmocka_unit_test(test_small_table_churn),
        cmocka_unit_test(test_negative_keys),
    };
    return cmocka_run_group_tests_name("hmap", tests, NULL, NULL);
}

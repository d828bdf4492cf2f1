/*
 * Internals of the DMN module, shared by its two files:
 *
 *   dmn.c   the reader: XML to a dmn_definitions, with every error found
 *   eval.c  the evaluator: a decision and its requirements over variables
 */
#ifndef CHUTE_DMN_INT_H
#define CHUTE_DMN_INT_H

#include "dmn/dmn.h"

/* The parsed expressions a definitions owns. */
typedef struct dmn_exprs {
    feel_expr **items;
    size_t n, cap;
} dmn_exprs;

/* What a definitions keeps for itself (dmn_definitions.priv_). */
typedef struct dmn_private {
    dmn_exprs exprs;
    /* sum(values), min(values), max(values): the aggregations of COLLECT,
     * computed by FEEL so that they mean what FEEL's functions mean. */
    feel_expr *agg_sum, *agg_min, *agg_max;
} dmn_private;

/* Parses the aggregation expressions; 0, or -1 when out of memory. */
int dmn_private_init(dmn_private *p);
/* Frees what dmn_private_init made (not |exprs|). */
void dmn_private_free(dmn_private *p);

#endif

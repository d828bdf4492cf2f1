/* Placeholder for the process runtime while it is written: every call is
 * refused. Replaced by the runtime in the next commits. */
#include "engine/engine_int.h"

#define NOT_YET(err) chute_error_set(err, CHUTE_EINVAL, "process instances are not built yet")

int chute_engine_create_instance(chute_engine *e, const chute_instance_spec *spec,
                                 const chute_instance_await *await, chute_instance_view *out,
                                 chute_awaiter **awaiter, chute_error *err)
{
    return NOT_YET(err);
}
void chute_engine_await_remove(chute_engine *e, chute_awaiter *a) {}
int chute_engine_cancel_instance(chute_engine *e, int64_t key, chute_error *err)
{
    return NOT_YET(err);
}
int chute_engine_set_variables(chute_engine *e, int64_t scope_key, const char *vars, size_t len,
                               int local, int64_t *key_out, chute_error *err)
{
    return NOT_YET(err);
}
int chute_engine_delete_resource(chute_engine *e, int64_t key, chute_error *err)
{
    return NOT_YET(err);
}
int chute_engine_get_instance(chute_engine *e, int64_t key, chute_instance_view *out,
                              chute_error *err)
{
    return NOT_YET(err);
}
int chute_engine_list_instances(chute_engine *e, const chute_instance_filter *f, size_t offset,
                                size_t limit, chute_instance_visit_fn fn, void *ctx)
{
    return 0;
}
int chute_engine_list_elements(chute_engine *e, int64_t key, chute_element_visit_fn fn,
                               void *ctx, chute_error *err)
{
    return NOT_YET(err);
}
int chute_engine_list_variables(chute_engine *e, int64_t key, int64_t scope_key,
                                chute_variable_visit_fn fn, void *ctx, chute_error *err)
{
    return NOT_YET(err);
}
int chute_engine_search_incidents(chute_engine *e, int64_t process_instance_key,
                                  chute_incident_visit_fn fn, void *ctx)
{
    return 0;
}

/* The CloudEvents stage: binary content mode of the CloudEvents MQTT
 * binding, under the Propagate and CreateOrRemap settings of a
 * DataflowEndpoint. Pure: no I/O, no logging, no global state; the only
 * outside inputs are the clock and the random UUID, behind hooks.
 *
 * Performance matters here (it runs on every published message), so the
 * per-message path does no heap allocation once the output object has
 * grown to the message's property count, and does not copy strings: the
 * output is a list of views into the input, the stage's configuration and
 * the output object's own inline buffers for generated `id` and `time`. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>
#include <errno.h>
#include <pthread.h>
#include <sys/random.h>
#include <openssl/crypto.h>

#include "cloudevents_internal.h"

#define N_ATTRS 9 /* AIOE_CE_ATTR_NONE .. AIOE_CE_ATTR_DATASCHEMA */
#define NOT_FOUND ((size_t)-1)
/* Most attributes the stage can append to a message. */
#define MAX_APPENDED 7

struct aioe_cloudevents_options {
    aioe_cloud_event_attributes mode;
    char *target_name;
    char *content_type;
    char *schema;
};

struct aioe_cloudevents {
    aioe_cloud_event_attributes mode;
    char *source; /* "aio://<target-name>", NULL without a target */
    size_t source_len;
    char *content_type; /* configured output content type or NULL */
    size_t content_type_len;
    char *schema; /* configured output schema or NULL */
    size_t schema_len;
    aioe_ce_hooks hooks;
};

struct aioe_cloudevents_output {
    aioe_user_property *buf; /* owned; holds copied + appended properties */
    size_t cap;
    const aioe_user_property *props; /* buf, or the caller's array */
    size_t n;
    const char *content_type;
    size_t content_type_len;
    aioe_cloudevents_outcome outcome;
    aioe_cloudevents_attribute invalid_attr;
    aioe_cloudevents_invalid_reason invalid_reason;
    unsigned changed;
    char id[AIOE_CE_UUID_LEN + 1];
    char time[AIOE_CE_TIME_LEN + 1];
};

static const char SPECVERSION_1_0[] = "1.0";
static const char DEFAULT_TYPE[] = "ms.aio-dataflow.telemetry";
static const char SOURCE_PREFIX[] = "aio://";

/* Names indexed by aioe_cloudevents_attribute. */
static const char *const attr_names[N_ATTRS] = {
    "", "specversion", "type", "source", "id",
    "subject", "time", "datacontenttype", "dataschema",
};

/* ---- options ------------------------------------------------------ */

int aioe_cloudevents_options_new(aioe_cloudevents_options **out)
{
    if (!out) return AIOE_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    if (!*out) return AIOE_ERR_NOMEM;
    (*out)->mode = AIOE_CLOUD_EVENTS_NONE;
    return AIOE_OK;
}

void aioe_cloudevents_options_free(aioe_cloudevents_options *opts)
{
    if (!opts) return;
    free(opts->target_name);
    free(opts->content_type);
    free(opts->schema);
    free(opts);
}

int aioe_cloudevents_options_set_mode(aioe_cloudevents_options *opts,
                                      aioe_cloud_event_attributes mode)
{
    if (!opts) return AIOE_ERR_INVALID_ARG;
    switch (mode) {
    case AIOE_CLOUD_EVENTS_NONE:
    case AIOE_CLOUD_EVENTS_PROPAGATE:
    case AIOE_CLOUD_EVENTS_CREATE_OR_REMAP:
        opts->mode = mode;
        return AIOE_OK;
    }
    return AIOE_ERR_INVALID_ARG;
}

/* Replaces *slot with a copy of value (NULL clears). */
static int set_string(char **slot, const char *value)
{
    char *copy = NULL;
    if (value) {
        copy = strdup(value);
        if (!copy) return AIOE_ERR_NOMEM;
    }
    free(*slot);
    *slot = copy;
    return AIOE_OK;
}

/* "aio://" + name, malloc'd; NULL when out of memory. */
static char *make_source(const char *name, size_t *len)
{
    size_t nl = strlen(name), pl = sizeof SOURCE_PREFIX - 1;
    char *s = malloc(pl + nl + 1);
    if (!s) return NULL;
    memcpy(s, SOURCE_PREFIX, pl);
    memcpy(s + pl, name, nl + 1);
    *len = pl + nl;
    return s;
}

int aioe_cloudevents_options_set_target_name(aioe_cloudevents_options *opts,
                                             const char *name)
{
    if (!opts) return AIOE_ERR_INVALID_ARG;
    if (name) {
        if (name[0] == '\0') return AIOE_ERR_INVALID_ARG;
        size_t len;
        char *source = make_source(name, &len);
        if (!source) return AIOE_ERR_NOMEM;
        bool ok = aioe_ce_is_uri_reference(source, len) && aioe_ce_is_string(source, len);
        free(source);
        if (!ok) return AIOE_ERR_INVALID_ARG;
    }
    return set_string(&opts->target_name, name);
}

int aioe_cloudevents_options_set_output_content_type(aioe_cloudevents_options *opts,
                                                     const char *content_type)
{
    if (!opts) return AIOE_ERR_INVALID_ARG;
    if (content_type) {
        size_t len = strlen(content_type);
        if (len == 0 || !aioe_ce_is_string(content_type, len) ||
            aioe_ce_is_structured_content_type(content_type, len))
            return AIOE_ERR_INVALID_ARG;
    }
    return set_string(&opts->content_type, content_type);
}

int aioe_cloudevents_options_set_output_schema(aioe_cloudevents_options *opts,
                                               const char *schema)
{
    if (!opts) return AIOE_ERR_INVALID_ARG;
    if (schema && !aioe_ce_is_absolute_uri(schema, strlen(schema)))
        return AIOE_ERR_INVALID_ARG;
    return set_string(&opts->schema, schema);
}

/* ---- the stage ----------------------------------------------------- */

static void default_now(struct timespec *ts, void *user_data)
{
    (void)user_data;
    if (clock_gettime(CLOCK_REALTIME, ts) != 0) {
        ts->tv_sec = time(NULL);
        ts->tv_nsec = 0;
    }
}

/* Random (version 4) UUIDs. uuid_generate_random() makes several system
 * calls per UUID (about 3 us here), which alone would break the 1 us
 * budget of CreateOrRemap. So each thread keeps a pool of kernel random
 * bytes, refilled with one getrandom() call per 64 UUIDs, and sets the
 * version and variant bits itself; libuuid still formats the result and
 * is the fallback when getrandom() is unavailable. A forked child must not
 * reuse its parent's pool: pthread_atfork empties the forking thread's
 * pool in the child (the only thread the child has). */
enum { UUID_POOL = 64 };
static _Thread_local struct {
    unsigned char bytes[16 * UUID_POOL];
    size_t used; /* bytes already handed out; == sizeof bytes when empty */
    bool init;
} uuid_pool;

static void uuid_pool_drop(void)
{
    OPENSSL_cleanse(uuid_pool.bytes, sizeof uuid_pool.bytes);
    uuid_pool.used = sizeof uuid_pool.bytes;
}

static pthread_once_t uuid_atfork_once = PTHREAD_ONCE_INIT;

static void uuid_atfork_register(void)
{
    pthread_atfork(NULL, NULL, uuid_pool_drop);
}

static void default_uuid(unsigned char bytes[16], void *user_data)
{
    (void)user_data;
    if (!uuid_pool.init) {
        pthread_once(&uuid_atfork_once, uuid_atfork_register);
        uuid_pool.used = sizeof uuid_pool.bytes;
        uuid_pool.init = true;
    }
    if (uuid_pool.used == sizeof uuid_pool.bytes) {
        size_t got = 0;
        while (got < sizeof uuid_pool.bytes) {
            ssize_t r = getrandom(uuid_pool.bytes + got, sizeof uuid_pool.bytes - got, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got < sizeof uuid_pool.bytes) {
            uuid_generate_random(bytes);
            return;
        }
        uuid_pool.used = 0;
    }
    memcpy(bytes, uuid_pool.bytes + uuid_pool.used, 16);
    OPENSSL_cleanse(uuid_pool.bytes + uuid_pool.used, 16);
    uuid_pool.used += 16;
    bytes[6] = (unsigned char)((bytes[6] & 0x0F) | 0x40); /* version 4 */
    bytes[8] = (unsigned char)((bytes[8] & 0x3F) | 0x80); /* RFC 4122 variant */
}

static const aioe_ce_hooks default_hooks = {default_now, default_uuid, NULL};

void aioe_cloudevents_free(aioe_cloudevents *ce)
{
    if (!ce) return;
    free(ce->source);
    free(ce->content_type);
    free(ce->schema);
    free(ce);
}

static int dup_opt(const char *src, char **dst, size_t *len)
{
    if (!src) return AIOE_OK;
    *dst = strdup(src);
    if (!*dst) return AIOE_ERR_NOMEM;
    *len = strlen(src);
    return AIOE_OK;
}

int aioe_cloudevents_new(aioe_cloudevents **out, const aioe_cloudevents_options *opts)
{
    if (!out) return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    if (!opts) return AIOE_ERR_INVALID_ARG;
    if (opts->mode == AIOE_CLOUD_EVENTS_CREATE_OR_REMAP && !opts->target_name)
        return AIOE_ERR_INVALID_ARG;
    aioe_cloudevents *ce = calloc(1, sizeof *ce);
    if (!ce) return AIOE_ERR_NOMEM;
    ce->mode = opts->mode;
    ce->hooks = default_hooks;
    if (opts->target_name) {
        ce->source = make_source(opts->target_name, &ce->source_len);
        if (!ce->source) goto nomem;
    }
    if (dup_opt(opts->content_type, &ce->content_type, &ce->content_type_len) != AIOE_OK ||
        dup_opt(opts->schema, &ce->schema, &ce->schema_len) != AIOE_OK)
        goto nomem;
    *out = ce;
    return AIOE_OK;
nomem:
    aioe_cloudevents_free(ce);
    return AIOE_ERR_NOMEM;
}

aioe_cloud_event_attributes aioe_cloudevents_mode(const aioe_cloudevents *ce)
{
    return ce ? ce->mode : AIOE_CLOUD_EVENTS_NONE;
}

void aioe_cloudevents_set_hooks(aioe_cloudevents *ce, const aioe_ce_hooks *hooks)
{
    if (ce) ce->hooks = hooks ? *hooks : default_hooks;
}

/* ---- output -------------------------------------------------------- */

/* Enough for a typical message (a handful of attributes and user
 * properties) so that the first apply does not allocate either. */
#define INITIAL_CAP 32

int aioe_cloudevents_output_new(aioe_cloudevents_output **out)
{
    if (!out) return AIOE_ERR_INVALID_ARG;
    aioe_cloudevents_output *o = calloc(1, sizeof *o);
    if (!o) return (*out = NULL, AIOE_ERR_NOMEM);
    o->buf = malloc(INITIAL_CAP * sizeof *o->buf);
    if (!o->buf) {
        free(o);
        *out = NULL;
        return AIOE_ERR_NOMEM;
    }
    o->cap = INITIAL_CAP;
    *out = o;
    return AIOE_OK;
}

void aioe_cloudevents_output_free(aioe_cloudevents_output *out)
{
    if (!out) return;
    free(out->buf);
    free(out);
}

static bool output_reserve(aioe_cloudevents_output *o, size_t n)
{
    if (n <= o->cap) return true;
    size_t cap = o->cap * 2 > n ? o->cap * 2 : n;
    if (cap > SIZE_MAX / sizeof *o->buf) return false;
    aioe_user_property *b = realloc(o->buf, cap * sizeof *o->buf);
    if (!b) return false;
    o->buf = b;
    o->cap = cap;
    return true;
}

static void output_reset(aioe_cloudevents_output *o)
{
    o->props = NULL;
    o->n = 0;
    o->content_type = NULL;
    o->content_type_len = 0;
    o->outcome = 0;
    o->invalid_attr = AIOE_CE_ATTR_NONE;
    o->invalid_reason = AIOE_CE_REASON_NONE;
    o->changed = 0;
}

/* The output is the input, untouched. */
static void output_passthrough(aioe_cloudevents_output *o, const aioe_user_property *props,
                               size_t n, const char *ct, size_t ct_len,
                               aioe_cloudevents_outcome outcome)
{
    o->props = n ? props : NULL;
    o->n = n;
    o->content_type = ct;
    o->content_type_len = ct_len;
    o->outcome = outcome;
}

const aioe_user_property *aioe_cloudevents_output_properties(const aioe_cloudevents_output *out,
                                                             size_t *count)
{
    if (count) *count = out ? out->n : 0;
    return out ? out->props : NULL;
}

const char *aioe_cloudevents_output_content_type(const aioe_cloudevents_output *out,
                                                 size_t *len)
{
    if (len) *len = out ? out->content_type_len : 0;
    return out ? out->content_type : NULL;
}

aioe_cloudevents_outcome aioe_cloudevents_output_outcome(const aioe_cloudevents_output *out)
{
    return out ? out->outcome : 0;
}

aioe_cloudevents_attribute
aioe_cloudevents_output_invalid_attribute(const aioe_cloudevents_output *out)
{
    return out ? out->invalid_attr : AIOE_CE_ATTR_NONE;
}

aioe_cloudevents_invalid_reason
aioe_cloudevents_output_invalid_reason(const aioe_cloudevents_output *out)
{
    return out ? out->invalid_reason : AIOE_CE_REASON_NONE;
}

unsigned aioe_cloudevents_output_changed(const aioe_cloudevents_output *out)
{
    return out ? out->changed : 0;
}

/* ---- apply --------------------------------------------------------- */

/* Which known attribute a user property name is; exact, case-sensitive
 * (MQTT property names are case-sensitive and CloudEvents names are lower
 * case), so "ID" or "Type" are ordinary user properties. */
static aioe_cloudevents_attribute classify(const char *name, size_t len)
{
#define IS(lit) (memcmp(name, lit, sizeof lit - 1) == 0)
    switch (len) {
    case 2: return IS("id") ? AIOE_CE_ATTR_ID : AIOE_CE_ATTR_NONE;
    case 4:
        if (IS("type")) return AIOE_CE_ATTR_TYPE;
        return IS("time") ? AIOE_CE_ATTR_TIME : AIOE_CE_ATTR_NONE;
    case 6: return IS("source") ? AIOE_CE_ATTR_SOURCE : AIOE_CE_ATTR_NONE;
    case 7: return IS("subject") ? AIOE_CE_ATTR_SUBJECT : AIOE_CE_ATTR_NONE;
    case 10: return IS("dataschema") ? AIOE_CE_ATTR_DATASCHEMA : AIOE_CE_ATTR_NONE;
    case 11: return IS("specversion") ? AIOE_CE_ATTR_SPECVERSION : AIOE_CE_ATTR_NONE;
    case 15: return IS("datacontenttype") ? AIOE_CE_ATTR_DATACONTENTTYPE : AIOE_CE_ATTR_NONE;
    default: return AIOE_CE_ATTR_NONE;
    }
#undef IS
}

typedef struct scan {
    size_t idx[N_ATTRS]; /* first index of each attribute, or NOT_FOUND */
    unsigned dup;        /* mask of attributes seen more than once */
} scan;

/* Returns false when a property has a NULL pointer with a non-zero length. */
static bool scan_props(const aioe_user_property *props, size_t n, scan *sc)
{
    for (size_t a = 0; a < N_ATTRS; a++) sc->idx[a] = NOT_FOUND;
    sc->dup = 0;
    for (size_t i = 0; i < n; i++) {
        const aioe_user_property *p = &props[i];
        if ((!p->name && p->name_len) || (!p->value && p->value_len)) return false;
        aioe_cloudevents_attribute a = classify(p->name, p->name_len);
        if (a == AIOE_CE_ATTR_NONE) continue;
        if (sc->idx[a] == NOT_FOUND)
            sc->idx[a] = i;
        else
            sc->dup |= AIOE_CE_ATTR_BIT(a);
    }
    return true;
}

static bool check_props(const aioe_user_property *props, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((!props[i].name && props[i].name_len) || (!props[i].value && props[i].value_len))
            return false;
    return true;
}

static aioe_cloudevents_invalid_reason check_value(aioe_cloudevents_attribute a,
                                                   const char *v, size_t n)
{
    if (n == 0) return AIOE_CE_REASON_EMPTY;
    switch (a) {
    case AIOE_CE_ATTR_SPECVERSION:
        if (!aioe_ce_is_string(v, n)) return AIOE_CE_REASON_BAD_CHARACTER;
        return n == 3 && memcmp(v, SPECVERSION_1_0, 3) == 0 ? AIOE_CE_REASON_NONE
                                                            : AIOE_CE_REASON_BAD_SPECVERSION;
    case AIOE_CE_ATTR_SOURCE:
        return aioe_ce_is_uri_reference(v, n) ? AIOE_CE_REASON_NONE
                                              : AIOE_CE_REASON_NOT_URI_REFERENCE;
    case AIOE_CE_ATTR_DATASCHEMA:
        return aioe_ce_is_absolute_uri(v, n) ? AIOE_CE_REASON_NONE
                                             : AIOE_CE_REASON_NOT_ABSOLUTE_URI;
    case AIOE_CE_ATTR_TIME:
        return aioe_ce_is_rfc3339(v, n) ? AIOE_CE_REASON_NONE : AIOE_CE_REASON_NOT_RFC3339;
    default: /* id, type, subject, datacontenttype: non-empty String */
        return aioe_ce_is_string(v, n) ? AIOE_CE_REASON_NONE : AIOE_CE_REASON_BAD_CHARACTER;
    }
}

/* Validates every present attribute, in enum order; the first problem
 * goes into the output. */
static bool validate(const aioe_user_property *props, const scan *sc,
                     aioe_cloudevents_output *o)
{
    for (unsigned a = 1; a < N_ATTRS; a++) {
        if (sc->idx[a] == NOT_FOUND) continue;
        aioe_cloudevents_invalid_reason r = AIOE_CE_REASON_DUPLICATE;
        if (!(sc->dup & AIOE_CE_ATTR_BIT(a))) {
            const aioe_user_property *p = &props[sc->idx[a]];
            r = check_value((aioe_cloudevents_attribute)a, p->value, p->value_len);
        }
        if (r != AIOE_CE_REASON_NONE) {
            o->invalid_attr = (aioe_cloudevents_attribute)a;
            o->invalid_reason = r;
            return false;
        }
    }
    return true;
}

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void append(aioe_cloudevents_output *o, aioe_cloudevents_attribute a,
                   const char *v, size_t vn)
{
    aioe_user_property *p = &o->buf[o->n++];
    p->name = attr_names[a];
    p->name_len = strlen(attr_names[a]);
    p->value = v;
    p->value_len = vn;
    o->changed |= AIOE_CE_ATTR_BIT(a);
}

/* Sets the value of a present attribute, marking it changed if it differs. */
static void replace(aioe_cloudevents_output *o, size_t i, aioe_cloudevents_attribute a,
                    const char *v, size_t vn)
{
    aioe_user_property *p = &o->buf[i];
    if (!same(p->value, p->value_len, v, vn)) o->changed |= AIOE_CE_ATTR_BIT(a);
    p->value = v;
    p->value_len = vn;
}

/* The part both modes share for a message that is an event on output:
 * content type, dataschema and the `datacontenttype` user-property mirror.
 * Copies the input properties into the output buffer when something must
 * change (the buffer has room for n + MAX_APPENDED). */
static void apply_configured(const aioe_cloudevents *ce, const aioe_user_property *props,
                             size_t n, const char *ct, size_t ct_len, const scan *sc,
                             aioe_cloudevents_output *o, bool force_copy)
{
    size_t ict = sc->idx[AIOE_CE_ATTR_DATACONTENTTYPE], ids = sc->idx[AIOE_CE_ATTR_DATASCHEMA];
    bool copy = force_copy || ce->schema || (ce->content_type && ict != NOT_FOUND);

    if (ce->content_type) {
        o->content_type = ce->content_type;
        o->content_type_len = ce->content_type_len;
        if (!ct || !same(ct, ct_len, ce->content_type, ce->content_type_len))
            o->changed |= AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATACONTENTTYPE);
    } else {
        o->content_type = ct;
        o->content_type_len = ct_len;
    }
    if (!copy) {
        o->props = n ? props : NULL;
        o->n = n;
        return;
    }
    if (n) memcpy(o->buf, props, n * sizeof *props);
    o->props = o->buf;
    o->n = n;
    if (ce->content_type && ict != NOT_FOUND)
        replace(o, ict, AIOE_CE_ATTR_DATACONTENTTYPE, ce->content_type, ce->content_type_len);
    if (ce->schema && ids != NOT_FOUND)
        replace(o, ids, AIOE_CE_ATTR_DATASCHEMA, ce->schema, ce->schema_len);
}

int aioe_cloudevents_apply(const aioe_cloudevents *ce, const aioe_user_property *props,
                           size_t n_props, const char *content_type, size_t content_type_len,
                           const char *topic, size_t topic_len, aioe_cloudevents_output *out,
                           aioe_cloudevents_outcome *outcome)
{
    if (outcome) *outcome = 0;
    if (!out) return AIOE_ERR_INVALID_ARG;
    output_reset(out);
    if (!ce || (!props && n_props) || (!content_type && content_type_len) ||
        (!topic && topic_len))
        return AIOE_ERR_INVALID_ARG;
    if (ce->mode == AIOE_CLOUD_EVENTS_CREATE_OR_REMAP && (!topic || topic_len == 0))
        return AIOE_ERR_INVALID_ARG;

    int rc = AIOE_OK;
    scan sc;
    if (ce->mode == AIOE_CLOUD_EVENTS_NONE ||
        aioe_ce_is_structured_content_type(content_type, content_type_len)) {
        if (!check_props(props, n_props)) return AIOE_ERR_INVALID_ARG;
        output_passthrough(out, props, n_props, content_type, content_type_len,
                           ce->mode == AIOE_CLOUD_EVENTS_NONE ? AIOE_CE_UNCHANGED
                                                              : AIOE_CE_STRUCTURED);
        goto done;
    }
    if (!scan_props(props, n_props, &sc)) return AIOE_ERR_INVALID_ARG;

    if (ce->mode == AIOE_CLOUD_EVENTS_PROPAGATE) {
        if (sc.idx[AIOE_CE_ATTR_SPECVERSION] == NOT_FOUND ||
            sc.idx[AIOE_CE_ATTR_TYPE] == NOT_FOUND ||
            sc.idx[AIOE_CE_ATTR_SOURCE] == NOT_FOUND || sc.idx[AIOE_CE_ATTR_ID] == NOT_FOUND) {
            output_passthrough(out, props, n_props, content_type, content_type_len,
                               AIOE_CE_UNCHANGED);
            goto done;
        }
        if (!validate(props, &sc, out)) {
            output_passthrough(out, props, n_props, content_type, content_type_len,
                               AIOE_CE_INVALID_ATTRIBUTE);
            goto done;
        }
        /* Room for a copy plus an appended dataschema. */
        if ((ce->schema || ce->content_type) &&
            (n_props > SIZE_MAX - MAX_APPENDED || !output_reserve(out, n_props + 1)))
            return AIOE_ERR_NOMEM;
        apply_configured(ce, props, n_props, content_type, content_type_len, &sc, out, false);
        if (ce->schema && sc.idx[AIOE_CE_ATTR_DATASCHEMA] == NOT_FOUND)
            append(out, AIOE_CE_ATTR_DATASCHEMA, ce->schema, ce->schema_len);
        out->outcome = AIOE_CE_PROPAGATED;
        goto done;
    }

    /* CreateOrRemap */
    if (!validate(props, &sc, out)) {
        output_passthrough(out, props, n_props, content_type, content_type_len,
                           AIOE_CE_INVALID_ATTRIBUTE);
        rc = AIOE_ERR_INVALID_EVENT;
        goto done;
    }
    bool need_subject = sc.idx[AIOE_CE_ATTR_SUBJECT] == NOT_FOUND;
    if (need_subject && !aioe_ce_is_string(topic, topic_len)) return AIOE_ERR_INVALID_ARG;
    if (n_props > SIZE_MAX - MAX_APPENDED || !output_reserve(out, n_props + MAX_APPENDED))
        return AIOE_ERR_NOMEM;
    apply_configured(ce, props, n_props, content_type, content_type_len, &sc, out, true);
    if (sc.idx[AIOE_CE_ATTR_SPECVERSION] == NOT_FOUND)
        append(out, AIOE_CE_ATTR_SPECVERSION, SPECVERSION_1_0, sizeof SPECVERSION_1_0 - 1);
    if (sc.idx[AIOE_CE_ATTR_TYPE] == NOT_FOUND)
        append(out, AIOE_CE_ATTR_TYPE, DEFAULT_TYPE, sizeof DEFAULT_TYPE - 1);
    if (sc.idx[AIOE_CE_ATTR_SOURCE] == NOT_FOUND)
        append(out, AIOE_CE_ATTR_SOURCE, ce->source, ce->source_len);
    if (sc.idx[AIOE_CE_ATTR_ID] == NOT_FOUND) {
        unsigned char u[16];
        ce->hooks.uuid(u, ce->hooks.user_data);
        uuid_unparse_lower(u, out->id);
        append(out, AIOE_CE_ATTR_ID, out->id, AIOE_CE_UUID_LEN);
    }
    if (need_subject) append(out, AIOE_CE_ATTR_SUBJECT, topic, topic_len);
    if (sc.idx[AIOE_CE_ATTR_TIME] == NOT_FOUND) {
        struct timespec ts;
        ce->hooks.now(&ts, ce->hooks.user_data);
        if (!aioe_ce_format_time(&ts, out->time)) {
            output_reset(out);
            return AIOE_ERR_INTERNAL; /* clock outside years 0000..9999 */
        }
        append(out, AIOE_CE_ATTR_TIME, out->time, AIOE_CE_TIME_LEN);
    }
    if (ce->schema && sc.idx[AIOE_CE_ATTR_DATASCHEMA] == NOT_FOUND)
        append(out, AIOE_CE_ATTR_DATASCHEMA, ce->schema, ce->schema_len);
    out->outcome = AIOE_CE_CREATED_OR_REMAPPED;

done:
    if (outcome) *outcome = out->outcome;
    return rc;
}

/* ---- names --------------------------------------------------------- */

const char *aioe_cloudevents_attribute_name(aioe_cloudevents_attribute attr)
{
    return (unsigned)attr < N_ATTRS ? attr_names[attr] : "";
}

const char *aioe_cloudevents_outcome_name(aioe_cloudevents_outcome outcome)
{
    switch (outcome) {
    case AIOE_CE_UNCHANGED: return "unchanged";
    case AIOE_CE_PROPAGATED: return "propagated";
    case AIOE_CE_CREATED_OR_REMAPPED: return "created_or_remapped";
    case AIOE_CE_STRUCTURED: return "structured";
    case AIOE_CE_INVALID_ATTRIBUTE: return "invalid_attribute";
    }
    return "unknown";
}

const char *aioe_cloudevents_invalid_reason_name(aioe_cloudevents_invalid_reason reason)
{
    switch (reason) {
    case AIOE_CE_REASON_NONE: return "valid";
    case AIOE_CE_REASON_DUPLICATE: return "duplicated user property";
    case AIOE_CE_REASON_EMPTY: return "empty value";
    case AIOE_CE_REASON_BAD_CHARACTER: return "disallowed character or invalid UTF-8";
    case AIOE_CE_REASON_BAD_SPECVERSION: return "specversion is not 1.0";
    case AIOE_CE_REASON_NOT_URI_REFERENCE: return "not an RFC 3986 URI-reference";
    case AIOE_CE_REASON_NOT_ABSOLUTE_URI: return "not an absolute RFC 3986 URI";
    case AIOE_CE_REASON_NOT_RFC3339: return "not an RFC 3339 date-time";
    }
    return "unknown";
}

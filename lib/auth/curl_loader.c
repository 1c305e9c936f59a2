/* Loads libcurl on first use (see curl_loader.h for why). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#include "curl_loader.h"

/* The SONAME of libcurl 7.x and 8.x. */
#define CURL_SONAME "libcurl.so.4"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static aioe_curl_api api;
static bool loaded;
static const char *failure = "libcurl was not loaded";

/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define LOAD(field, name)                                   \
    do {                                                    \
        *(void **)(&api.field) = dlsym(handle, name);       \
        if (!api.field) {                                   \
            failure = "libcurl lacks " name " (too old?)";  \
            return;                                         \
        }                                                   \
    } while (0)

static void load(void)
{
    void *handle = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        failure = "cannot load " CURL_SONAME " (install libcurl4, the OpenSSL flavour)";
        return;
    }
    LOAD(global_init, "curl_global_init");
    LOAD(easy_init, "curl_easy_init");
    LOAD(easy_setopt, "curl_easy_setopt");
    LOAD(easy_perform, "curl_easy_perform");
    LOAD(easy_getinfo, "curl_easy_getinfo");
    LOAD(easy_cleanup, "curl_easy_cleanup");
    LOAD(easy_strerror, "curl_easy_strerror");
    LOAD(easy_header, "curl_easy_header");
    LOAD(slist_append, "curl_slist_append");
    LOAD(slist_free_all, "curl_slist_free_all");
    LOAD(easy_escape, "curl_easy_escape");
    LOAD(free, "curl_free");
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        failure = "libcurl initialisation failed";
        return;
    }
    /* the handle stays open for the life of the process */
    loaded = true;
}

const aioe_curl_api *aioe_curl(const char **why)
{
    pthread_once(&once, load);
    if (!loaded && why)
        *why = failure;
    return loaded ? &api : NULL;
}

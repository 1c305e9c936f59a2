/* libcurl, loaded when first needed. Only managed-identity token sources
 * make HTTP requests; loading libcurl (and the dozen libraries it pulls in:
 * GnuTLS, Kerberos, LDAP, SSH...) into every process that links
 * libaioendpoint would cost about 3 MiB of resident memory for nothing, so
 * it is opened with dlopen() on first use instead of linked. */
#ifndef AIOE_CURL_LOADER_H
#define AIOE_CURL_LOADER_H

#include <stddef.h>
#include <curl/curl.h>

typedef struct aioe_curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *c);
    const char *(*easy_strerror)(CURLcode rc);
    CURLHcode (*easy_header)(CURL *c, const char *name, size_t index, unsigned int origin,
                             int request, struct curl_header **hout);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    char *(*easy_escape)(CURL *c, const char *s, int len);
    void (*free)(void *p);
} aioe_curl_api;

/* The loaded and initialised (curl_global_init) API, or NULL when libcurl
 * cannot be loaded; then *why (may be NULL) gets a static reason.
 * Thread-safe; loads once per process and is never unloaded. */
const aioe_curl_api *aioe_curl(const char **why);

#endif /* AIOE_CURL_LOADER_H */

/* SPDX-License-Identifier: MIT */
/* GET /api/schema/ (app layer, API.md §7.7): an OpenAPI 3.1 document generated at startup from
 * the route table (app_routes.c) and the resource descriptions below, so a route cannot exist
 * without appearing here and nothing is written twice. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "json/json.h"

struct field {
    const char *name;
    const char *type;   /* JSON Schema type */
    const char *format; /* NULL or a format / description */
    int max_length;     /* 0: none */
    bool is_read_only;
    bool is_required; /* on create */
};

struct resource {
    const char *name;   /* the component name */
    const char *prefix; /* the collection path it serves */
    struct field fields[6];
};

#define AUTHOR                                                                                     \
    {                                                                                              \
        "author", "object", "{id, username} or null", 0, true, false                               \
    }
#define CREATED                                                                                    \
    {                                                                                              \
        "created_at", "string", "YYYY年MM月DD日 HH時MM分SS秒 (input: ISO-8601 too)", 0, false,     \
            false                                                                                  \
    }

static const struct resource resources[] = {
    {"Category",
     "/api/categories/",
     {{"id", "integer", NULL, 0, true, false}, {"name", "string", NULL, 100, false, true}, AUTHOR}},
    {"Topic",
     "/api/topics/",
     {{"id", "integer", NULL, 0, true, false},
      {"category", "integer", "category id", 0, false, true},
      CREATED,
      {"comment", "string", NULL, 2000, false, true},
      AUTHOR}},
    {"Reply",
     "/api/replies/",
     {{"id", "integer", NULL, 0, true, false},
      {"topic", "integer", "topic id", 0, false, true},
      CREATED,
      {"comment", "string", NULL, 2000, false, true},
      AUTHOR}},
    {"Room",
     "/api/rooms/",
     {{"id", "integer", NULL, 0, true, false},
      CREATED,
      {"name", "string", "unique", 200, false, true},
      {"headcount", "integer", "0 to 2147483647", 0, false, false},
      AUTHOR}},
    {"ChatLog",
     "/api/rooms/{id}/chatlogs/",
     {{"id", "integer", NULL, 0, true, false},
      CREATED,
      {"message", "string", NULL, 200, true, false},
      {"room", "integer", NULL, 0, true, false},
      AUTHOR}},
};

static const char description[] =
    "hiroba: a bulletin board and chat server, wire-compatible with a Django REST framework + "
    "SimpleJWT + Channels backend. WebSocket chat: ws://host/ws/chat/<room>/ with the access "
    "token as the only subprotocol (frames {\"id\",\"message\",\"created_at\"}), or subprotocols "
    "[\"hiroba.v1\", token] for typed frames (message, presence, error); send "
    "{\"message\":\"...\"}; ?after=<id> resumes with no gap. /ws/bbs/ streams topic.* and reply.* "
    "events. Close codes: 1000, 1001, 1002, 1003, 1007, 1009, 1011, 1013, 4400, 4404.";

static const struct resource *resource_of(const char *pattern)
{
    const struct resource *best = NULL;
    for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
        if (strncmp(pattern, resources[i].prefix, strlen(resources[i].prefix)) == 0)
            best = &resources[i];
    }
    if (strstr(pattern, "/replies/") != NULL && strncmp(pattern, "/api/topics/", 12) == 0)
        return &resources[2];
    return best;
}

static void write_schema(struct hb_json_writer *w, const struct resource *r)
{
    hb_json_write_object_begin(w);
    HB_JSON_KEY(w, "type");
    hb_json_write_cstr(w, "object");
    HB_JSON_KEY(w, "properties");
    hb_json_write_object_begin(w);
    for (int i = 0; i < 6 && r->fields[i].name != NULL; i++) {
        const struct field *f = &r->fields[i];
        hb_json_write_key(w, f->name);
        hb_json_write_object_begin(w);
        HB_JSON_KEY(w, "type");
        hb_json_write_cstr(w, f->type);
        if (f->format != NULL) {
            HB_JSON_KEY(w, "description");
            hb_json_write_cstr(w, f->format);
        }
        if (f->max_length > 0) {
            HB_JSON_KEY(w, "maxLength");
            hb_json_write_int(w, f->max_length);
        }
        if (f->is_read_only) {
            HB_JSON_KEY(w, "readOnly");
            hb_json_write_bool(w, true);
        }
        hb_json_write_object_end(w);
    }
    hb_json_write_object_end(w);
    HB_JSON_KEY(w, "required");
    hb_json_write_array_begin(w);
    for (int i = 0; i < 6 && r->fields[i].name != NULL; i++) {
        if (r->fields[i].is_required)
            hb_json_write_cstr(w, r->fields[i].name);
    }
    hb_json_write_array_end(w);
    hb_json_write_object_end(w);
}

static void write_response(struct hb_json_writer *w, const char *code, const char *text,
                           const struct resource *r, bool is_list)
{
    hb_json_write_key(w, code);
    hb_json_write_object_begin(w);
    HB_JSON_KEY(w, "description");
    hb_json_write_cstr(w, text);
    if (r != NULL) {
        char ref[64];
        snprintf(ref, sizeof(ref), "#/components/schemas/%s", r->name);
        HB_JSON_KEY(w, "content");
        hb_json_write_object_begin(w);
        HB_JSON_KEY(w, "application/json");
        hb_json_write_object_begin(w);
        HB_JSON_KEY(w, "schema");
        hb_json_write_object_begin(w);
        if (is_list) {
            HB_JSON_KEY(w, "type");
            hb_json_write_cstr(w, "array");
            HB_JSON_KEY(w, "items");
            hb_json_write_object_begin(w);
        }
        HB_JSON_KEY(w, "$ref");
        hb_json_write_cstr(w, ref);
        if (is_list)
            hb_json_write_object_end(w);
        hb_json_write_object_end(w);
        hb_json_write_object_end(w);
        hb_json_write_object_end(w);
    }
    hb_json_write_object_end(w);
}

static void write_raw(struct hb_json_writer *w, const char *json)
{
    hb_json_write_raw(w, json, strlen(json));
}

static const char *const method_keys[] = {"",      "get",    "post", "put",
                                          "patch", "delete", "head", "options"};

/* The OpenAPI path for a pattern: <int:id> and <id> become {id}. */
static void openapi_path(const char *pattern, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = pattern; *p != '\0' && n + 6 < len; p++) {
        if (*p == '<') {
            const char *end = strchr(p, '>');
            const char *name = strchr(p, ':');
            name = name != NULL && name < end ? name + 1 : p + 1;
            out[n++] = '{';
            while (name < end && n + 3 < len)
                out[n++] = *name++;
            out[n++] = '}';
            p = end;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

static void build(struct hb_buf *out)
{
    struct hb_json_writer w;
    hb_json_writer_init(&w, out);
    hb_json_write_object_begin(&w);
    HB_JSON_KEY(&w, "openapi");
    hb_json_write_cstr(&w, "3.1.0");
    HB_JSON_KEY(&w, "info");
    hb_json_write_object_begin(&w);
    HB_JSON_KEY(&w, "title");
    hb_json_write_cstr(&w, "hiroba API");
    HB_JSON_KEY(&w, "version");
    hb_json_write_cstr(&w, "1");
    HB_JSON_KEY(&w, "description");
    hb_json_write_cstr(&w, description);
    hb_json_write_object_end(&w);
    HB_JSON_KEY(&w, "paths");
    hb_json_write_object_begin(&w);
    for (size_t i = 0; i < hb_app_n_routes; i++) {
        const struct hb_http_route *rt = &hb_app_routes[i];
        if (i > 0 && strcmp(hb_app_routes[i - 1].pattern, rt->pattern) == 0)
            continue; /* written with the first row of its pattern */
        char path[128];
        openapi_path(rt->pattern, path, sizeof(path));
        hb_json_write_key(&w, path);
        hb_json_write_object_begin(&w);
        for (size_t j = i; j < hb_app_n_routes && !strcmp(hb_app_routes[j].pattern, rt->pattern);
             j++) {
            const struct hb_http_route *op = &hb_app_routes[j];
            const struct resource *r = resource_of(op->pattern);
            bool is_detail = strchr(op->pattern, '<') != NULL &&
                             strstr(op->pattern, "/replies/") == NULL &&
                             strstr(op->pattern, "/chatlogs/") == NULL;
            hb_json_write_key(&w, method_keys[op->method]);
            hb_json_write_object_begin(&w);
            HB_JSON_KEY(&w, "summary");
            hb_json_write_cstr(&w, op->name);
            HB_JSON_KEY(&w, "operationId");
            char id[96];
            snprintf(id, sizeof(id), "%s_%s", method_keys[op->method], op->name);
            for (char *c = id; *c; c++)
                *c = *c == ' ' ? '_' : *c;
            hb_json_write_cstr(&w, id);
            if (op->auth != HB_AUTH_NONE) {
                HB_JSON_KEY(&w, "security");
                write_raw(&w, "[{\"bearerAuth\":[]}]");
            }
            bool has_body = op->method == HB_HTTP_POST || op->method == HB_HTTP_PUT ||
                            op->method == HB_HTTP_PATCH;
            if (has_body && r != NULL && strncmp(op->pattern, "/api/", 5) == 0 &&
                strstr(op->pattern, "/token") == NULL) {
                char ref[256];
                snprintf(ref, sizeof(ref),
                         "{\"required\":true,\"content\":{\"application/json\":{\"schema\":"
                         "{\"$ref\":\"#/components/schemas/%s\"}}}}",
                         r->name);
                HB_JSON_KEY(&w, "requestBody");
                hb_json_write_raw(&w, ref, strlen(ref));
            }
            HB_JSON_KEY(&w, "responses");
            hb_json_write_object_begin(&w);
            if (op->method == HB_HTTP_DELETE)
                write_response(&w, "204", "Deleted", NULL, false);
            else if (op->method == HB_HTTP_POST && r != NULL && !is_detail)
                write_response(&w, "201", "Created", r, false);
            else
                write_response(&w, "200", "OK", r, op->method == HB_HTTP_GET && !is_detail);
            if (has_body)
                write_response(&w, "400", "Validation error: {\"field\":[\"message\"]}", NULL,
                               false);
            if (op->auth != HB_AUTH_NONE)
                write_response(&w, "401", "Authentication failed", NULL, false);
            if (is_detail && op->method != HB_HTTP_GET)
                write_response(&w, "403", "Only the author or staff", NULL, false);
            if (is_detail)
                write_response(&w, "404", "{\"detail\":\"見つかりませんでした。\"}", NULL, false);
            write_response(&w, "405", "Method not allowed", NULL, false);
            hb_json_write_object_end(&w);
            hb_json_write_object_end(&w);
        }
        hb_json_write_object_end(&w);
    }
    hb_json_write_object_end(&w);
    HB_JSON_KEY(&w, "components");
    hb_json_write_object_begin(&w);
    HB_JSON_KEY(&w, "securitySchemes");
    hb_json_write_raw(&w,
                      "{\"bearerAuth\":{\"type\":\"http\",\"scheme\":\"bearer\","
                      "\"bearerFormat\":\"JWT\"}}",
                      69);
    HB_JSON_KEY(&w, "schemas");
    hb_json_write_object_begin(&w);
    for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
        hb_json_write_key(&w, resources[i].name);
        write_schema(&w, &resources[i]);
    }
    hb_json_write_object_end(&w);
    hb_json_write_object_end(&w);
    hb_json_write_object_end(&w);
    (void)hb_json_writer_finish(&w);
}

static struct hb_buf schema;
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static void schema_init(void)
{
    hb_buf_init(&schema, (size_t)1024 * 1024);
    build(&schema);
}

int hb_app_schema(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    pthread_once(&schema_once, schema_init);
    res->status = 200;
    res->content_type = "application/json";
    res->static_body = (struct hb_str){schema.data, schema.len};
    return 0;
}

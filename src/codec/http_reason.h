/*
 * The reason phrase of an HTTP status, for status lines and as the default
 * title of a problem: the one table of them, shared by the HTTP/1.1
 * transport (src/server/http.c, which knows no JSON) and the REST codec. No
 * JSON, no sockets.
 */
#ifndef CHUTE_CODEC_HTTP_REASON_H
#define CHUTE_CODEC_HTTP_REASON_H

/* The reason phrase of |status| ("Not Found"), for the statuses Chute
 * answers with (RFC 9110's words); "Unknown" otherwise. Never NULL. */
const char *codec_http_reason(int status);

#endif /* CHUTE_CODEC_HTTP_REASON_H */

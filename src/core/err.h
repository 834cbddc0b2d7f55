/* SPDX-License-Identifier: MIT */
/* Error codes for the whole tree (core layer).
 * Functions return 0 on success and a negative code on failure. hiroba's own codes live in
 * -1000..-1999 so a libuv status (-errno, UV_EOF) can travel through the same int unchanged. */
#ifndef HB_CORE_ERR_H
#define HB_CORE_ERR_H

/* X(name, value, text) */
#define HB_ERR_MAP(X)                                                                              \
    X(HB_EAGAIN, -1000, "more input needed")                                                       \
    X(HB_EPROTO, -1001, "protocol error")                                                          \
    X(HB_ETOOLARGE, -1002, "too large")                                                            \
    X(HB_EINVAL, -1003, "invalid argument")                                                        \
    X(HB_ENOTFOUND, -1004, "not found")                                                            \
    X(HB_ENOMEM, -1005, "out of memory")                                                           \
    X(HB_EIO, -1006, "i/o error")                                                                  \
    X(HB_ETIMEDOUT, -1007, "timed out")                                                            \
    X(HB_EEXIST, -1008, "already exists")                                                          \
    X(HB_EDB, -1009, "database error")                                                             \
    X(HB_EAUTH, -1010, "authentication failed")                                                    \
    X(HB_EPERM, -1011, "permission denied")                                                        \
    X(HB_ECONFLICT, -1012, "conflict")                                                             \
    X(HB_EBUSY, -1013, "busy")                                                                     \
    X(HB_ECLOSED, -1014, "closed")

enum hb_err {
#define HB_ERR_ENUM(name, value, text) name = (value),
    HB_ERR_MAP(HB_ERR_ENUM)
#undef HB_ERR_ENUM
};

/* Returns the symbolic name of err ("HB_EPROTO"), or "UNKNOWN" for a code hiroba does not own.
 * The string is static. */
const char *hb_err_name(int err);

/* Returns a short lower-case description of err. Codes outside hiroba's range are described
 * with strerror(-err). The string is static (or owned by libc). */
const char *hb_strerror(int err);

/* Aborts with a message: a programmer mistake, never bad input (git BUG()). */
#define HB_BUG(msg) hb__bug(__FILE__, __LINE__, (msg))
_Noreturn void hb__bug(const char *file, int line, const char *msg);

#endif

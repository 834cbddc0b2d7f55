/* SPDX-License-Identifier: MIT */
/* Clocks (core layer): monotonic time for deadlines and durations, wall time for timestamps. */
#ifndef HB_CORE_CLOCK_H
#define HB_CORE_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds since an arbitrary origin. */
uint64_t hb_clock_mono_ns(void);

/* Wall-clock microseconds since the Unix epoch. */
int64_t hb_clock_unix_us(void);

#endif

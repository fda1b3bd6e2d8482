/*
 * check(): one failed expectation of an integration test program, printed
 * as "FAIL: ..." and counted in failures; the program goes on, and exits
 * 1 at the end when failures is not 0.
 */
#ifndef LUNAR_ITEST_CHECK_H
#define LUNAR_ITEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int failures;

static void __attribute__((format(printf, 2, 3)))
check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	failures++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#endif

/*
 * check(): one failed expectation of an integration test program, printed
 * as "FAIL: ..." and counted in failures; the program goes on, and ends
 * with return check_verdict().
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

/* The program's verdict: "ok" and 0, or the count of failures and 1. */
static int check_verdict(void)
{
	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}

#endif

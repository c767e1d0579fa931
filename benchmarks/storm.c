/*
 * storm: a bounded syscall storm for the drain benchmark.
 *
 * Calls getppid(2) through syscall(2) (no libc caching) COUNT times, stopping
 * early after SECONDS of wall time. With RATE > 0 the calls are paced to about
 * RATE per second (checked every PACE_CHUNK calls); RATE 0 means as fast as
 * possible. Prints "calls=<n> seconds=<elapsed>" on stdout.
 *
 * The benchmark pairs it with one audit rule on getppid, so every call is one
 * audit event (SYSCALL + PROCTITLE + EOE records) from this process only.
 *
 * usage: storm COUNT SECONDS [RATE]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PACE_CHUNK 64L

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s COUNT SECONDS [RATE]\n", argv[0]);
		return 2;
	}
	long count = atol(argv[1]);
	double limit = atof(argv[2]);
	double rate = argc > 3 ? atof(argv[3]) : 0.0;
	double start = now();
	double elapsed = 0.0;
	long done = 0;

	while (done < count) {
		long chunk = count - done < PACE_CHUNK ? count - done : PACE_CHUNK;
		for (long i = 0; i < chunk; i++)
			syscall(SYS_getppid);
		done += chunk;
		elapsed = now() - start;
		if (elapsed >= limit)
			break;
		if (rate > 0.0) {
			double ahead = (double)done / rate - elapsed;
			if (ahead > 0.0) {
				struct timespec pause = {
					.tv_sec = (time_t)ahead,
					.tv_nsec = (long)((ahead - (double)(time_t)ahead) * 1e9),
				};
				nanosleep(&pause, NULL);
			}
		}
	}
	elapsed = now() - start;
	printf("calls=%ld seconds=%.6f\n", done, elapsed);
	return 0;
}

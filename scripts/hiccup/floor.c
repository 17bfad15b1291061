/* The platform floor the spec quotes: sleep to absolute 1 ms deadlines with
 * clock_nanosleep and record how late each wake-up was (raw, no correction).
 * Prints p50 p99 p99.9 max in microseconds. Usage: floor WAITS [tight]
 * 'tight' sets the thread's timer slack to 1 ns, as eventbench's threads do (the
 * default slack, 50 us, is part of every wake-up otherwise). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/prctl.h>

static long long ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  if (argc > 2 && strcmp(argv[2], "tight") == 0) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  long long *over = malloc(sizeof(long long) * n);
  long long deadline = ns() + 1000000;
  for (int i = 0; i < n; i++) {
    struct timespec t = {deadline / 1000000000LL, deadline % 1000000000LL};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
    long long now = ns();
    over[i] = now > deadline ? now - deadline : 0;
    deadline += 1000000;
    if (deadline < now) deadline = now + 1000000;
  }
  qsort(over, n, sizeof(long long), cmp);
  printf("%.1f %.1f %.1f %.1f\n", over[n / 2] / 1e3, over[(int)(n * 0.99)] / 1e3,
         over[(int)(n * 0.999)] / 1e3, over[n - 1] / 1e3);
  return 0;
}

/* exec_storm COUNT SECONDS RATE: fork + exec /bin/true COUNT times, paced at RATE per
 * second, stopping after SECONDS at the latest; prints the execs done and the seconds. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    long count = atol(argv[1]);
    double seconds = atof(argv[2]), rate = atof(argv[3]);
    if (count <= 0 || count > 1000000 || seconds <= 0 || seconds > 60 || rate <= 0)
        return 2;
    double start = now();
    long done = 0;
    for (; done < count; done++) {
        double due = start + done / rate, t = now();
        if (t - start > seconds)
            break;
        if (due > t) {
            struct timespec ts = {(time_t)(due - t), (long)((due - t - (time_t)(due - t)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        if (pid < 0)
            break;
        waitpid(pid, NULL, 0);
    }
    printf("%ld %.3f\n", done, now() - start);
    return 0;
}

/*
 * recv_loop: the minimal unicast audit reader, the practical ceiling for one
 * reader process in the drain benchmark.
 *
 * Opens NETLINK_AUDIT, forces a large receive buffer, registers itself as the
 * audit daemon (AUDIT_SET with mask AUDIT_STATUS_PID), then receives one
 * datagram per record and only counts them (event records are types >= 1100),
 * and the SYSCALL records carrying the benchmark's key (one per storm event).
 * It stops on SIGINT/SIGTERM or after MAX_SECONDS, unregisters (pid 0) and
 * prints "records=<n> keyed=<n> bytes=<n> overflows=<n> last=<t>" on stdout, where t
 * is the CLOCK_MONOTONIC time of the last record (to time the drain exactly).
 *
 * A DELAY_US > 0 spins that long after each record: a deliberately slow reader,
 * to show where a reader that falls behind loses records.
 *
 * usage: recv_loop MAX_SECONDS [RCVBUF_BYTES [DELAY_US]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUF_SIZE 16384
#define POLL_INTERVAL_US 100000
/* The benchmark rule's key as it ends a storm event's SYSCALL record. */
#define KEY_MARK "key=\"trioaudit-bench\""

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int set_pid(int fd, unsigned int pid)
{
	struct {
		struct nlmsghdr nlh;
		struct audit_status status;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = AUDIT_SET;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = pid ? 1 : 2;
	req.status.mask = AUDIT_STATUS_PID;
	req.status.pid = pid;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		perror("sendto AUDIT_SET");
		return -1;
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s MAX_SECONDS [RCVBUF_BYTES [DELAY_US]]\n", argv[0]);
		return 2;
	}
	double limit = atof(argv[1]);
	int rcvbuf = argc > 2 ? atoi(argv[2]) : 64 * 1024 * 1024;
	double delay = argc > 3 ? atof(argv[3]) / 1e6 : 0.0;
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct timeval poll = { .tv_sec = 0, .tv_usec = POLL_INTERVAL_US };
	struct sigaction sa;
	static char buf[RECV_BUF_SIZE];
	unsigned long long records = 0, bytes = 0, overflows = 0, keyed = 0;
	double last = 0.0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll, sizeof(poll));
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		perror("bind");
		return 1;
	}
	if (set_pid(fd, (unsigned int)getpid()) < 0)
		return 1;
	fprintf(stderr, "recv_loop: registered pid %d\n", getpid());

	double start = now();
	while (!stopping && now() - start < limit) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == ENOBUFS)
				overflows++;
			else if (errno != EAGAIN && errno != EINTR)
				perror("recv");
			continue;
		}
		if (n >= (ssize_t)sizeof(struct nlmsghdr)) {
			struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
			if (nlh->nlmsg_type >= AUDIT_FIRST_USER_MSG) {
				records++;
				bytes += (unsigned long long)n;
				if (nlh->nlmsg_type == AUDIT_SYSCALL &&
				    memmem(buf, (size_t)n, KEY_MARK, sizeof(KEY_MARK) - 1))
					keyed++;
				last = now();
				while (delay > 0.0 && now() - last < delay)
					;
			}
		}
	}
	set_pid(fd, 0);
	close(fd);
	printf("records=%llu keyed=%llu bytes=%llu overflows=%llu last=%.6f\n", records, keyed,
	       bytes, overflows, last);
	return 0;
}

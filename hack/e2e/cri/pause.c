/* The CRI lane's sandbox ("pause") image: the process that holds a pod's namespaces.
 * It waits for signals and does nothing else: SIGCHLD reaps children (it is PID 1 of a pod
 * that shares its PID namespace), SIGINT and SIGTERM end it with status 0, as Kubernetes'
 * pause does. Built static so the image is this one file (hack/e2e/mkimage.py --pause). */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

int main(void)
{
	sigset_t wanted;
	int sig;

	sigemptyset(&wanted);
	sigaddset(&wanted, SIGINT);
	sigaddset(&wanted, SIGTERM);
	sigaddset(&wanted, SIGCHLD);
	sigprocmask(SIG_BLOCK, &wanted, NULL);
	for (;;) {
		if (sigwait(&wanted, &sig) != 0)
			continue;
		if (sig != SIGCHLD)
			return 0;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

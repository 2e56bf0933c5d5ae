// exit prints a line and exits with the code given as its first argument:
// a guest to watch the restart policy at work.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	int code = argc > 1 ? atoi(argv[1]) : 1;
	printf("exiting with %d\n", code);
	return code;
}

// files writes or shows a file: a guest for lifecycle hooks, where a
// prestart task leaves a file in the shared /alloc dir that the main task
// reads when it starts.
//
//	files write PATH TEXT   write TEXT and a newline to PATH, exit 0
//	files cat PATH          print PATH (exit 1 if it cannot be read), then idle
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc == 4 && strcmp(argv[1], "write") == 0) {
		FILE *f = fopen(argv[2], "w");
		if (f == NULL || fprintf(f, "%s\n", argv[3]) < 0 || fclose(f) != 0) {
			perror(argv[2]);
			return 1;
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "cat") == 0) {
		FILE *f = fopen(argv[2], "r");
		if (f == NULL) {
			perror(argv[2]);
			return 1;
		}
		char buf[256];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
			fwrite(buf, 1, n, stdout);
		}
		fclose(f);
		fflush(stdout);
		for (;;) sleep(3600);
	}
	fprintf(stderr, "usage: files write PATH TEXT | files cat PATH\n");
	return 2;
}

// sleep idles forever: a guest for measuring what an idle wasm task costs.
#include <unistd.h>

int main(void) {
	for (;;) sleep(3600);
}

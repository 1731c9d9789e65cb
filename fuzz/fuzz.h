/*
 * fuzz.h: what every harness in fuzz/ shares (style 3.10).  A harness
 * defines LLVMFuzzerTestOneInput() around one real parser and includes
 * this file last.  Built for libFuzzer (clang -fsanitize=fuzzer) it adds
 * nothing; built with -DFUZZ_REPLAY (gcc, ASan/UBSan, `make fuzz-replay`)
 * it adds a main() that feeds each file named on the command line, and
 * every regular file of each directory named, to the harness once.
 *
 * fuzz_check() is the harness's assert: a broken property prints why and
 * aborts, which both libFuzzer and the replay report as a crash.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define fuzz_check(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#ifdef FUZZ_REPLAY
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_MAX	(1024 * 1024)	/* far above libFuzzer inputs */

/* Feeds one file to the harness; returns 0, or -1 if it cannot be read. */
static int
replay_file(int dfd, const char *path)
{
	struct stat	 st;
	uint8_t		*buf;
	ssize_t		 r;
	size_t		 len = 0;
	int		 fd;

	if ((fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > REPLAY_MAX) {
		fprintf(stderr, "replay: cannot use %s\n", path);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	/* One spare byte so an empty file still gets a valid pointer. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		abort();
	while (len < (size_t)st.st_size &&
	    (r = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)r;
	(void)close(fd);
	(void)LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int
replay_dir(const char *path, unsigned long *n)
{
	struct dirent	*d;
	DIR		*dir;
	int		 rv = 0;

	if ((dir = opendir(path)) == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (replay_file(dirfd(dir), d->d_name) == -1)
			rv = -1;
		else
			(*n)++;
	}
	(void)closedir(dir);
	return rv;
}

int
main(int argc, char *argv[])
{
	struct stat	 st;
	unsigned long	 n = 0;
	int		 i, rv = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &n) == -1)
				rv = 1;
		} else if (replay_file(AT_FDCWD, argv[i]) == -1)
			rv = 1;
		else
			n++;
	}
	fprintf(stderr, "%s: %lu inputs replayed\n", argv[0], n);
	return rv;
}
#endif /* FUZZ_REPLAY */

#endif /* FUZZ_H */

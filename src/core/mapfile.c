/* mapfile.c -- read-only file mappings. */
#define _DEFAULT_SOURCE /* madvise */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

tflc_code_t mf_open(mf_t *f, const char *path, tflc_status_t *st)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return st_err(st, TFLC_ERR_IO, path, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return st_err(st, TFLC_ERR_IO, path, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return st_err(st, TFLC_ERR_IO, path, "is a directory, not a file");
    }
    if (sb.st_size == 0) {
        close(fd);
        return TFLC_OK;
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return st_err(st, TFLC_ERR_IO, path, "cannot map: %s", strerror(e));
    f->data = p;
    f->size = (size_t)sb.st_size;
    f->map = p;
    f->map_len = (size_t)sb.st_size;
    return TFLC_OK;
}

void mf_close(mf_t *f)
{
    if (f->map)
        munmap(f->map, f->map_len);
    memset(f, 0, sizeof *f);
}

void mf_release(const mf_t *f, const void *p, size_t size)
{
    /* Only a read-only private file mapping: MADV_DONTNEED on its clean
     * pages drops them and later reads fault them in from the file again.
     * (On anonymous memory it would zero them: never call it there.) */
    if (!f->map || !size)
        return;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        return;
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t hi = ((uintptr_t)p + size) & ~((uintptr_t)pg - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

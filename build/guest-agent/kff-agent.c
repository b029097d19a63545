// SPDX-License-Identifier: GPL-2.0
/*
 * kff-agent: KfuncForge's guest agent. Runs as /init of the smoke-test initramfs.
 *
 * PID 1 mounts the pseudo file systems, opens the records port (a second serial port) and forks a
 * worker that executes /kff/manifest line by line: load modules, load BPF programs that call the
 * kfuncs, run them, run the load profiles, or (install check) run programs of the image such as depmod
 * and modprobe. Every observation goes out as one JSON object per line
 * on the records port; the console (ttyS0) is left to the kernel and to humans. The agent judges
 * nothing: the host compares the records with the module's expectations.
 *
 * When the worker ends (normally or killed by a signal) PID 1 writes an "exit" record and powers
 * the machine off, so a crashed agent is reported as such instead of looking like a hang.
 *
 * Outside a VM (not PID 1) the same binary runs the manifest given with --manifest and writes
 * records to --records; the host's tests use this to exercise the supervisor without booting.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/fs.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define PROTOCOL_VERSION 1
#define VERIFIER_LOG_SIZE (4u << 20)
#define VERIFIER_LOG_TAIL (16u << 10)
#define LOADER_LOG_SIZE (64u << 10)
#define SMOKE_SOCKETS 4
#define ABORT_WAIT_NS (5ull * 1000000000ull)

static int records_fd = -1;
static const char *boot_id = "";

/* ---------------------------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------------------------- */
static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* ---------------------------------------------------------------------------------------------
 * JSON records: built in a growing buffer, written with one write() per record.
 * ------------------------------------------------------------------------------------------- */
struct rec {
	char *buf;
	size_t len, cap;
	bool first;
};

static void rec_put(struct rec *r, const char *s, size_t n)
{
	if (r->len + n + 2 > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		while (r->len + n + 2 > cap)
			cap *= 2;
		char *p = realloc(r->buf, cap);
		if (!p)
			_exit(112);
		r->buf = p;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, s, n);
	r->len += n;
}

static void rec_puts(struct rec *r, const char *s) { rec_put(r, s, strlen(s)); }

static void rec_fmt(struct rec *r, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		rec_put(r, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void rec_string(struct rec *r, const char *s, size_t n)
{
	rec_put(r, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			rec_put(r, e, 2);
		} else if (c == '\n') {
			rec_put(r, "\\n", 2);
		} else if (c == '\t') {
			rec_put(r, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f) {
			rec_fmt(r, "\\u%04x", c);
		} else {
			rec_put(r, (const char *)&s[i], 1);
		}
	}
	rec_put(r, "\"", 1);
}

static void rec_key(struct rec *r, const char *key)
{
	if (!r->first)
		rec_put(r, ",", 1);
	r->first = false;
	rec_string(r, key, strlen(key));
	rec_put(r, ":", 1);
}

static struct rec rec_begin(const char *type)
{
	struct rec r = { 0 };
	r.first = true;
	rec_put(&r, "{", 1);
	rec_key(&r, "v");
	rec_fmt(&r, "%d", PROTOCOL_VERSION);
	rec_key(&r, "type");
	rec_string(&r, type, strlen(type));
	rec_key(&r, "boot");
	rec_string(&r, boot_id, strlen(boot_id));
	return r;
}

static void rec_str(struct rec *r, const char *key, const char *v)
{
	rec_key(r, key);
	if (v)
		rec_string(r, v, strlen(v));
	else
		rec_puts(r, "null");
}

/* The last `tail` bytes of a long text (verifier logs end with the reason), marked as cut. */
static void rec_str_tail(struct rec *r, const char *key, const char *v, size_t tail)
{
	size_t n = v ? strlen(v) : 0;
	if (n <= tail) {
		rec_str(r, key, v ? v : "");
		return;
	}
	const char *start = v + n - tail;
	const char *nl = memchr(start, '\n', tail);
	if (nl && (size_t)(nl - start) < 512)
		start = nl + 1;
	rec_key(r, key);
	struct rec tmp = { 0 };
	rec_puts(&tmp, "[... cut ...]\n");
	rec_put(&tmp, start, n - (size_t)(start - v));
	rec_string(r, tmp.buf, tmp.len);
	free(tmp.buf);
}

static void rec_i64(struct rec *r, const char *key, long long v)
{
	rec_key(r, key);
	rec_fmt(r, "%lld", v);
}

static void rec_u64(struct rec *r, const char *key, unsigned long long v)
{
	rec_key(r, key);
	rec_fmt(r, "%llu", v);
}

static void rec_bool(struct rec *r, const char *key, bool v)
{
	rec_key(r, key);
	rec_puts(r, v ? "true" : "false");
}

static void rec_errno_as(struct rec *r, const char *num_key, const char *text_key, int err)
{
	rec_i64(r, num_key, err);
	rec_str(r, text_key, err ? strerror(err) : "");
}

static void rec_errno(struct rec *r, int err) { rec_errno_as(r, "errno", "error", err); }

/* Errors of running a loaded program, apart from those of loading it. */
static void rec_run_errno(struct rec *r, int err) { rec_errno_as(r, "run_errno", "run_error", err); }

static void rec_end(struct rec *r)
{
	rec_put(r, "}\n", 2);
	size_t off = 0;
	while (records_fd >= 0 && off < r->len) {
		ssize_t w = write(records_fd, r->buf + off, r->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (records_fd >= 0)
		fsync(records_fd);
	free(r->buf);
}

/* Announces a step before it starts, so a step that never ends (a hang, a panic) is known. */
static void begin_step(const char *step, const char *module, const char *name)
{
	struct rec r = rec_begin("begin");
	rec_str(&r, "step", step);
	rec_str(&r, "module", module);
	rec_str(&r, "name", name);
	rec_end(&r);
}

/* ---------------------------------------------------------------------------------------------
 * Capture of libbpf's own messages (e.g. "extern (func ksym) 'x': not found in kernel or module BTFs").
 * ------------------------------------------------------------------------------------------- */
static char loader_log[LOADER_LOG_SIZE];
static size_t loader_log_len;

static int loader_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (loader_log_len + 1 >= sizeof(loader_log))
		return 0;
	int n = vsnprintf(loader_log + loader_log_len, sizeof(loader_log) - loader_log_len, fmt, ap);
	if (n > 0)
		loader_log_len += (size_t)n;
	if (loader_log_len >= sizeof(loader_log))
		loader_log_len = sizeof(loader_log) - 1;
	return 0;
}

static void loader_log_reset(void)
{
	loader_log_len = 0;
	loader_log[0] = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Kernel log lines printed while something happened (module init, for instance).
 * ------------------------------------------------------------------------------------------- */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static void rec_kmsg(struct rec *r, int fd)
{
	rec_key(r, "kernel_log");
	rec_puts(r, "[");
	bool first = true;
	char line[2048];
	for (int i = 0; fd >= 0 && i < 200; i++) {
		ssize_t n = read(fd, line, sizeof(line) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* overwritten records: skip ahead */
		if (n <= 0)
			break;
		line[n] = 0;
		char *msg = strchr(line, ';');
		msg = msg ? msg + 1 : line;
		char *end = strchr(msg, '\n');
		if (end)
			*end = 0;
		if (!first)
			rec_puts(r, ",");
		first = false;
		rec_string(r, msg, strlen(msg));
	}
	rec_puts(r, "]");
	if (fd >= 0)
		close(fd);
}

/* ---------------------------------------------------------------------------------------------
 * Manifest: one command per line, fields separated by tabs.
 * ------------------------------------------------------------------------------------------- */
#define MAX_FIELDS 16

static int split_tabs(char *line, char **f)
{
	int n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < MAX_FIELDS; p++)
		if (*p == '\t') {
			*p = 0;
			f[n++] = p + 1;
		}
	return n;
}

/* ---------------------------------------------------------------------------------------------
 * Modules
 * ------------------------------------------------------------------------------------------- */
static void cmd_module(char **f, int n)
{
	/* module <name> <path> <kind: built|dependency> <kfunc,kfunc|-> */
	if (n < 5)
		return;
	const char *name = f[1], *path = f[2], *kind = f[3];
	begin_step("module", name, name);
	struct rec r = rec_begin("module");
	rec_str(&r, "module", name);
	rec_str(&r, "kind", kind);
	int kfd = kmsg_open();
	uint64_t t0 = now_ns();
	int err = 0;
	/* A compressed module (.ko.xz/.ko.zst/.ko.gz, as a system extension ships it) is decompressed by the kernel
	 * (MODULE_INIT_COMPRESSED_FILE, needs CONFIG_MODULE_DECOMPRESS), as kmod asks it to. */
	size_t plen = strlen(path);
	int flags = 0;
	if ((plen > 3 && (strcmp(path + plen - 3, ".xz") == 0 || strcmp(path + plen - 3, ".gz") == 0)) ||
	    (plen > 4 && strcmp(path + plen - 4, ".zst") == 0))
		flags = 4; /* MODULE_INIT_COMPRESSED_FILE */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		err = errno;
	else if (syscall(SYS_finit_module, fd, "", flags) != 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	uint64_t t1 = now_ns();
	rec_bool(&r, "ok", err == 0);
	rec_errno(&r, err);
	rec_u64(&r, "ns", t1 - t0);

	char btf_path[512];
	snprintf(btf_path, sizeof(btf_path), "/sys/kernel/btf/%s", name);
	bool has_btf = access(btf_path, R_OK) == 0;
	rec_bool(&r, "btf", has_btf);

	/* Which of the module's kfuncs its BTF declares as functions (registration is proved by calling them). */
	rec_key(&r, "kfuncs_in_btf");
	rec_puts(&r, "[");
	if (has_btf && strcmp(f[4], "-") != 0) {
		struct btf *base = btf__load_vmlinux_btf();
		struct btf *mod = base ? btf__parse_split(btf_path, base) : NULL;
		bool first = true;
		char *list = strdup(f[4]), *save = NULL;
		for (char *k = strtok_r(list, ",", &save); k && mod; k = strtok_r(NULL, ",", &save)) {
			if (btf__find_by_name_kind(mod, k, BTF_KIND_FUNC) < 0)
				continue;
			if (!first)
				rec_puts(&r, ",");
			first = false;
			rec_string(&r, k, strlen(k));
		}
		free(list);
		btf__free(mod);
		btf__free(base);
	}
	rec_puts(&r, "]");
	rec_kmsg(&r, kfd);
	rec_end(&r);
}

/* ---------------------------------------------------------------------------------------------
 * Programs of the image itself (the install check: depmod and modprobe of an installed rootfs)
 * ------------------------------------------------------------------------------------------- */
#define COMMAND_OUTPUT_TAIL (16u << 10)

static void cmd_run(char **f, int n)
{
	/* run <name> <program> [args...]: runs a program of the image (found on a fixed PATH), stdout and stderr together */
	if (n < 3)
		return;
	const char *name = f[1];
	begin_step("command", name, name);
	struct rec r = rec_begin("command");
	rec_str(&r, "name", name);
	rec_key(&r, "argv");
	rec_puts(&r, "[");
	for (int i = 2; i < n; i++) {
		if (i > 2)
			rec_puts(&r, ",");
		rec_string(&r, f[i], strlen(f[i]));
	}
	rec_puts(&r, "]");
	int kfd = kmsg_open();
	uint64_t t0 = now_ns();
	int err = 0, status = 0;
	pid_t pid = -1;
	struct rec out = { 0 };
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		err = errno;
	} else {
		pid = fork();
		if (pid == 0) {
			char *argv[MAX_FIELDS + 1];
			int k = 0;
			for (int i = 2; i < n; i++)
				argv[k++] = f[i];
			argv[k] = NULL;
			/* Never interactive: a program that prompts reads end-of-file, as under a non-interactive apt. */
			int nul = open("/dev/null", O_RDONLY);
			if (nul > 0) {
				dup2(nul, 0);
				close(nul);
			}
			dup2(pipefd[1], 1);
			dup2(pipefd[1], 2);
			setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
			setenv("LC_ALL", "C", 1);
			execvp(argv[0], argv);
			dprintf(2, "kff-agent: cannot run %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		if (pid < 0)
			err = errno;
		close(pipefd[1]);
		char buf[4096];
		for (;;) {
			ssize_t got = read(pipefd[0], buf, sizeof(buf));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				break;
			rec_put(&out, buf, (size_t)got);
		}
		close(pipefd[0]);
		while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	rec_u64(&r, "ns", now_ns() - t0);
	rec_errno(&r, err);
	if (pid > 0 && WIFEXITED(status))
		rec_i64(&r, "code", WEXITSTATUS(status));
	else if (pid > 0 && WIFSIGNALED(status))
		rec_i64(&r, "signal", WTERMSIG(status));
	rec_put(&out, "", 1);
	rec_str_tail(&r, "output", out.buf, COMMAND_OUTPUT_TAIL);
	free(out.buf);
	rec_kmsg(&r, kfd);
	rec_end(&r);
}

/* The record of a built-in command: args[0] is its name, argv is the verb and the other fields; the kernel's
 * log is read from here on. builtin_end adds the outcome. */
static struct rec builtin_begin(const char *verb, char **args, int nargs, int *kfd)
{
	begin_step("command", args[0], args[0]);
	struct rec r = rec_begin("command");
	rec_str(&r, "name", args[0]);
	rec_key(&r, "argv");
	rec_puts(&r, "[");
	rec_string(&r, verb, strlen(verb));
	for (int i = 1; i < nargs; i++) {
		rec_puts(&r, ",");
		rec_string(&r, args[i], strlen(args[i]));
	}
	rec_puts(&r, "]");
	*kfd = kmsg_open();
	return r;
}

static void builtin_end(struct rec *r, int err, int kfd)
{
	rec_errno(r, err);
	rec_i64(r, "code", err ? 1 : 0);
	rec_kmsg(r, kfd);
	rec_end(r);
}

static void cmd_write(char **f, int n)
{
	/* write <name> <path> <text>: writes text into a file (a sysfs switch, for instance) */
	if (n < 4)
		return;
	int kfd;
	struct rec r = builtin_begin("write", f + 1, 3, &kfd);
	int err = 0;
	int fd = open(f[2], O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, f[3], strlen(f[3])) < 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	builtin_end(&r, err, kfd);
}

static void cmd_mount(char **f, int n)
{
	/* mount <name> <fstype> <target>: mounts a pseudo file system (efivarfs, once its module is loaded) */
	if (n < 4)
		return;
	int kfd;
	struct rec r = builtin_begin("mount", f + 1, 3, &kfd);
	builtin_end(&r, mount(f[2], f[3], f[2], 0, NULL) != 0 ? errno : 0, kfd);
}

static void cmd_unlink(char **f, int n)
{
	/* unlink <name> <path>: removes a file, clearing its immutable flag first (efivarfs creates its
	 * variables immutable; removing one deletes the firmware variable) */
	if (n < 3)
		return;
	int kfd;
	struct rec r = builtin_begin("unlink", f + 1, 2, &kfd);
	int fd = open(f[2], O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		int flags = 0;
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
			flags &= ~FS_IMMUTABLE_FL;
			ioctl(fd, FS_IOC_SETFLAGS, &flags);
		}
		close(fd);
	}
	builtin_end(&r, unlink(f[2]) != 0 ? errno : 0, kfd);
}

/* ---------------------------------------------------------------------------------------------
 * BPF objects
 * ------------------------------------------------------------------------------------------- */
static char *verifier_log;

struct loaded {
	struct bpf_object *obj;
	struct bpf_program *prog;
	int err;
};

/* Where a global variable of the object's data sections (.bss, .data, .rodata) lives: its map,
 * offset and size, from the object's BTF. */
struct global {
	struct bpf_map *map;
	size_t offset, size;
};

static bool find_global(struct bpf_object *obj, const char *name, struct global *g)
{
	struct btf *btf = bpf_object__btf(obj);
	if (!btf)
		return false;
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj) {
		const char *dot = strrchr(bpf_map__name(map), '.');
		int sec_id = dot ? btf__find_by_name_kind(btf, dot, BTF_KIND_DATASEC) : -1;
		if (sec_id < 0)
			continue;
		const struct btf_type *sec = btf__type_by_id(btf, (__u32)sec_id);
		const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
		for (int i = 0; i < btf_vlen(sec); i++, vs++) {
			const struct btf_type *var = btf__type_by_id(btf, vs->type);
			if (strcmp(btf__name_by_offset(btf, var->name_off), name) != 0)
				continue;
			if (vs->offset + vs->size > bpf_map__value_size(map))
				return false;
			g->map = map;
			g->offset = vs->offset;
			g->size = vs->size;
			return true;
		}
	}
	return false;
}

static uint64_t load_scalar(const void *p, size_t size)
{
	switch (size) {
	case 1: return *(const uint8_t *)p;
	case 2: return *(const uint16_t *)p;
	case 4: return *(const uint32_t *)p;
	default: return *(const uint64_t *)p;
	}
}

static void store_scalar(void *p, size_t size, uint64_t v)
{
	switch (size) {
	case 1: *(uint8_t *)p = (uint8_t)v; break;
	case 2: *(uint16_t *)p = (uint16_t)v; break;
	case 4: *(uint32_t *)p = (uint32_t)v; break;
	default: *(uint64_t *)p = v; break;
	}
}

/* Before load: sets the variable's initial value. */
static bool set_global(struct bpf_object *obj, const char *name, uint64_t value)
{
	struct global g;
	size_t msize = 0;
	if (!find_global(obj, name, &g) || (g.size != 1 && g.size != 2 && g.size != 4 && g.size != 8))
		return false;
	char *base = (char *)bpf_map__initial_value(g.map, &msize);
	if (!base || g.offset + g.size > msize)
		return false;
	store_scalar(base + g.offset, g.size, value);
	return true;
}

/* Opens the object and finds the program; `program` "-" means the object's only program. */
static int open_object(struct loaded *l, const char *path, const char *program)
{
	memset(l, 0, sizeof(*l));
	loader_log_reset();
	l->obj = bpf_object__open_file(path, NULL);
	if (!l->obj)
		return l->err = errno ? errno : EINVAL;
	struct bpf_program *p;
	int count = 0;
	bpf_object__for_each_program(p, l->obj) {
		count++;
		bool match = strcmp(program, "-") == 0 || strcmp(bpf_program__name(p), program) == 0;
		if (match && !l->prog)
			l->prog = p;
	}
	if (!l->prog || (strcmp(program, "-") == 0 && count != 1)) {
		loader_log_len += (size_t)snprintf(loader_log + loader_log_len, sizeof(loader_log) - loader_log_len,
			"kff-agent: %s: program '%s' not found (the object has %d programs)\n", path, program, count);
		return l->err = ENOENT;
	}
	bpf_object__for_each_program(p, l->obj)
		bpf_program__set_autoload(p, p == l->prog);
	return 0;
}

static int load_object(struct loaded *l)
{
	verifier_log[0] = 0;
	bpf_program__set_log_buf(l->prog, verifier_log, VERIFIER_LOG_SIZE);
	int err = bpf_object__load(l->obj);
	return l->err = err ? (err < 0 ? -err : err) : 0;
}

static void rec_program(struct rec *r, struct loaded *l)
{
	if (l->prog) {
		rec_str(r, "section", bpf_program__section_name(l->prog));
		const char *t = libbpf_bpf_prog_type_str(bpf_program__type(l->prog));
		rec_str(r, "prog_type", t ? t : "unknown");
	}
	rec_bool(r, "loaded", l->err == 0);
	rec_errno(r, l->err);
	if (l->err) {
		rec_str_tail(r, "verifier_log", verifier_log, VERIFIER_LOG_TAIL);
		rec_str_tail(r, "loader_log", loader_log, VERIFIER_LOG_TAIL);
	}
}

static bool is_socket_iter(struct loaded *l)
{
	const char *s = bpf_program__section_name(l->prog);
	return strcmp(s, "iter/tcp") == 0 || strcmp(s, "iter/udp") == 0 || strcmp(s, "iter.s/tcp") == 0 ||
	       strcmp(s, "iter.s/udp") == 0;
}

static bool is_tcp_iter(struct loaded *l) { return strstr(bpf_program__section_name(l->prog), "/tcp") != NULL; }

/* A minimal Ethernet + IPv4 + TCP frame, for program types that run on packets. */
static const unsigned char test_packet[64] = {
	0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
	0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
	0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0,
};

static bool runs_on_packets(enum bpf_prog_type t)
{
	switch (t) {
	case BPF_PROG_TYPE_SOCKET_FILTER:
	case BPF_PROG_TYPE_SCHED_CLS:
	case BPF_PROG_TYPE_SCHED_ACT:
	case BPF_PROG_TYPE_XDP:
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_LWT_IN:
	case BPF_PROG_TYPE_LWT_OUT:
	case BPF_PROG_TYPE_LWT_XMIT:
	case BPF_PROG_TYPE_LWT_SEG6LOCAL:
	case BPF_PROG_TYPE_SK_SKB:
	case BPF_PROG_TYPE_FLOW_DISSECTOR:
		return true;
	default:
		return false;
	}
}

/* One BPF_PROG_TEST_RUN of `repeat` runs; the kernel measures the average in o->duration.
 * Syscall programs take no repeat count (the kernel refuses one): they are run `repeat` times
 * from here and o->duration stays 0. */
static int test_run(struct loaded *l, int repeat, struct bpf_test_run_opts *o)
{
	unsigned char out[256];
	bool syscall_prog = bpf_program__type(l->prog) == BPF_PROG_TYPE_SYSCALL;
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->repeat = syscall_prog ? 0 : repeat;
	if (runs_on_packets(bpf_program__type(l->prog))) {
		o->data_in = test_packet;
		o->data_size_in = sizeof(test_packet);
		o->data_out = out;
		o->data_size_out = sizeof(out);
	}
	int runs = syscall_prog && repeat > 1 ? repeat : 1;
	for (int i = 0; i < runs; i++) {
		int err = bpf_prog_test_run_opts(bpf_program__fd(l->prog), o);
		if (err)
			return errno ? errno : -err;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Socket workload. The agent writes a port into the program's `target_port` global (host byte
 * order, before load) and opens N sockets on that port: TCP, N connections to a listener on it
 * (accepted ends have it as local port, client ends as remote port); UDP, N sockets bound to it with
 * SO_REUSEPORT. After one pass of the iterator, every UDP socket must fail recv() with ECONNABORTED,
 * and every TCP connection must be dead with ECONNABORTED on at least one end (the end the kfunc
 * aborted; the other end sees the RST as ECONNRESET unless it was aborted too). A backport may abort
 * asynchronously, so the agent waits up to 5 s in total.
 * ------------------------------------------------------------------------------------------- */
struct sock_result {
	long opened, aborted, other_errors, still_open, local_aborted, peers_aborted, peers_reset;
	int first_errno, setup_errno;
	uint64_t setup_ns, iter_ns, complete_ns;
	bool port_set;
	/* Sockets of the iterator's protocol in use (IPv4 + IPv6, /proc/net/sockstat{,6} "inuse")
	 * before the set-up and after everything was closed: a leak shows as after > before. */
	long inuse_before, inuse_after;
	/* The same count with every socket of the run open: proves the counter sees them. */
	long inuse_open;
};

/* What an iterator case runs over (smoke manifest field 7, "<family>/<state>"; default ipv4/established). */
struct sock_scenario {
	int family;	/* AF_INET or AF_INET6 */
	enum { SOCK_ESTABLISHED, SOCK_LISTENING, SOCK_CLOSING } state;
};

static const struct sock_scenario default_scenario = { AF_INET, SOCK_ESTABLISHED };

static bool parse_scenario(const char *text, struct sock_scenario *sc)
{
	char family[16], state[16];
	if (sscanf(text, "%15[^/]/%15s", family, state) != 2)
		return false;
	if (strcmp(family, "ipv4") == 0)
		sc->family = AF_INET;
	else if (strcmp(family, "ipv6") == 0)
		sc->family = AF_INET6;
	else
		return false;
	if (strcmp(state, "established") == 0)
		sc->state = SOCK_ESTABLISHED;
	else if (strcmp(state, "listening") == 0)
		sc->state = SOCK_LISTENING;
	else if (strcmp(state, "closing") == 0)
		sc->state = SOCK_CLOSING;
	else
		return false;
	return true;
}

/* Sum of the "inuse" counts of one protocol ("TCP" / "UDP") in /proc/net/sockstat and sockstat6. */
static long sockets_in_use(bool tcp)
{
	static const char *files[] = { "/proc/net/sockstat", "/proc/net/sockstat6" };
	long total = 0;
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "re");
		char line[256];
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char proto[16];
			long inuse;
			if (sscanf(line, "%15[^:]: inuse %ld", proto, &inuse) == 2 &&
			    (strcmp(proto, tcp ? "TCP" : "UDP") == 0 || strcmp(proto, tcp ? "TCP6" : "UDP6") == 0))
				total += inuse;
		}
		fclose(f);
	}
	return total;
}

/* The pending error of a socket (SO_ERROR, which also clears it), waiting until deadline for one. */
static int socket_so_error(int fd, uint64_t deadline)
{
	for (;;) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			return errno;
		uint64_t now = now_ns();
		if (err || now >= deadline)
			return err;
		struct pollfd p = { .fd = fd, .events = 0 };
		poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1);
		if (!(p.revents & (POLLERR | POLLHUP)) && now_ns() < deadline)
			usleep(1000);
	}
}

static void raise_nofile(long need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)need;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void close_all(int *fds, long n)
{
	for (long i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Waits (until deadline) for the socket's pending error; returns the errno recv() reports, 0 if none. */
static int socket_error(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLERR };
	uint64_t now = now_ns();
	poll(&p, 1, now < deadline ? (int)((deadline - now) / 1000000ull) : 0);
	char b;
	ssize_t r = recv(fd, &b, 1, MSG_DONTWAIT);
	return r < 0 ? errno : 0;
}

static socklen_t sock_address(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*a);
}

/* Waits until an accepted socket has read its peer's FIN (recv returns 0): the server end is then in CLOSE_WAIT. */
static bool wait_for_fin(int fd, uint64_t deadline)
{
	while (now_ns() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 100);
		char b;
		if (recv(fd, &b, 1, MSG_DONTWAIT) == 0)
			return true;
	}
	return false;
}

static int sock_workload(struct loaded *l, long n, uint16_t port, const struct sock_scenario *sc, struct sock_result *res)
{
	bool tcp = is_tcp_iter(l);
	int family = sc->family;
	raise_nofile(3 * n + 1024);
	int *checked = calloc((size_t)n, sizeof(int));
	int *peers = calloc((size_t)n, sizeof(int));
	int server = -1, one = 1;
	for (long i = 0; i < n; i++)
		checked[i] = peers[i] = -1;
	struct sockaddr_storage ss;
	socklen_t sslen = sock_address(family, port, &ss);
	struct sockaddr *sa = (struct sockaddr *)&ss;
	res->inuse_before = sockets_in_use(tcp);
	uint64_t t0 = now_ns();
	if (!tcp && sc->state != SOCK_ESTABLISHED) {
		res->setup_errno = EINVAL; /* listening and closing are TCP states */
		goto out;
	}
	if (tcp) {
		server = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (server < 0 || setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(server, sa, sslen) || listen(server, 4096)) {
			res->setup_errno = errno;
			goto out;
		}
	}
	long want = sc->state == SOCK_LISTENING ? 0 : n;
	for (long i = 0; i < want; i++) {
		int c = socket(family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
		if (c < 0) {
			res->setup_errno = errno;
			goto out;
		}
		if (tcp) {
			peers[i] = c;
			if (connect(c, sa, sslen) || (checked[i] = accept4(server, NULL, NULL, SOCK_CLOEXEC)) < 0) {
				res->setup_errno = errno;
				goto out;
			}
			if (sc->state == SOCK_CLOSING && shutdown(c, SHUT_WR)) {
				res->setup_errno = errno;
				goto out;
			}
		} else {
			checked[i] = c;
			if (setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
			    setsockopt(c, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) || bind(c, sa, sslen)) {
				res->setup_errno = errno;
				goto out;
			}
		}
		res->opened++;
	}
	if (sc->state == SOCK_LISTENING)
		res->opened = 1;
	if (sc->state == SOCK_CLOSING)
		for (long i = 0; i < res->opened; i++)
			if (!wait_for_fin(checked[i], now_ns() + ABORT_WAIT_NS)) {
				res->setup_errno = ETIMEDOUT;
				goto out;
			}
	uint64_t t1 = now_ns();
	res->setup_ns = t1 - t0;
	res->inuse_open = sockets_in_use(tcp);

	struct bpf_link *link = bpf_program__attach_iter(l->prog, NULL);
	if (!link) {
		res->setup_errno = errno;
		goto out;
	}
	int iter = bpf_iter_create(bpf_link__fd(link));
	if (iter < 0) {
		res->setup_errno = errno;
		bpf_link__destroy(link);
		goto out;
	}
	char buf[4096];
	uint64_t t2 = now_ns();
	while (read(iter, buf, sizeof(buf)) > 0)
		;
	uint64_t t3 = now_ns();
	close(iter);
	bpf_link__destroy(link);
	res->iter_ns = t3 - t2;

	/* Backports abort asynchronously: allow the fixed wait plus 1 ms per socket for big runs. */
	uint64_t deadline = t3 + ABORT_WAIT_NS + (uint64_t)n * 1000000ull, last = t3;
	if (sc->state == SOCK_LISTENING) {
		/* The listener itself: its pending error must become ECONNABORTED. */
		int e = socket_so_error(server, deadline);
		if (e == ECONNABORTED) {
			res->aborted = 1;
			res->local_aborted = 1;
			last = now_ns();
		} else if (e == 0) {
			res->still_open = 1;
		} else {
			res->other_errors = 1;
			res->first_errno = e;
		}
		res->complete_ns = last - t2;
		goto out;
	}
	/* UDP: each socket must fail with ECONNABORTED. TCP: per connection, the end the kfunc aborted
	 * reports ECONNABORTED and the other end (if not aborted itself) gets the RST as ECONNRESET.
	 * Closing connections have already delivered their FIN (a read returns 0 before any error), so
	 * their pending error is read with SO_ERROR instead. */
	for (long i = 0; i < res->opened; i++) {
		int e, p;
		if (sc->state == SOCK_CLOSING) {
			e = socket_so_error(checked[i], deadline);
			p = socket_so_error(peers[i], e == ECONNABORTED ? deadline : 0);
			e = e ? e : EAGAIN;
			p = p ? p : EAGAIN;
		} else {
			e = socket_error(checked[i], deadline);
			p = tcp ? socket_error(peers[i], e == ECONNABORTED ? deadline : 0) : ECONNABORTED;
		}
		bool dead = (e == ECONNABORTED || e == ECONNRESET) && (p == ECONNABORTED || p == ECONNRESET);
		if (tcp) {
			res->local_aborted += e == ECONNABORTED;
			res->peers_aborted += p == ECONNABORTED;
			res->peers_reset += p == ECONNRESET;
		}
		if (dead && (e == ECONNABORTED || p == ECONNABORTED)) {
			res->aborted++;
			last = now_ns();
		} else if (e == EAGAIN && (!tcp || p == EAGAIN)) {
			res->still_open++;
		} else {
			res->other_errors++;
			if (!res->first_errno)
				res->first_errno = e != ECONNABORTED && e != ECONNRESET ? (e ? e : -1) : p;
		}
	}
	res->complete_ns = last - t2;
out:
	close_all(checked, n);
	close_all(peers, n);
	if (server >= 0)
		close(server);
	free(checked);
	free(peers);
	/* Closed sockets leave the tables shortly after (orphans, RCU): wait up to 5 s for the baseline. */
	uint64_t settle = now_ns() + ABORT_WAIT_NS;
	while ((res->inuse_after = sockets_in_use(tcp)) > res->inuse_before && now_ns() < settle)
		usleep(20000);
	return res->setup_errno;
}

static void rec_sock_result(struct rec *r, long n, const struct sock_result *s, bool tcp)
{
	rec_str(r, "proto", tcp ? "tcp" : "udp");
	rec_i64(r, "sockets", n);
	rec_bool(r, "port_set", s->port_set);
	rec_i64(r, "opened", s->opened);
	rec_i64(r, "aborted", s->aborted);
	rec_i64(r, "still_open", s->still_open);
	rec_i64(r, "other_errors", s->other_errors);
	rec_i64(r, "first_errno", s->first_errno);
	rec_i64(r, "setup_errno", s->setup_errno);
	if (tcp) {
		rec_i64(r, "local_aborted", s->local_aborted);
		rec_i64(r, "peers_aborted", s->peers_aborted);
		rec_i64(r, "peers_reset", s->peers_reset);
	}
	rec_i64(r, "inuse_before", s->inuse_before);
	rec_i64(r, "inuse_after", s->inuse_after);
	rec_i64(r, "inuse_open", s->inuse_open);
	rec_u64(r, "setup_ns", s->setup_ns);
	rec_u64(r, "iter_ns", s->iter_ns);
	rec_u64(r, "complete_ns", s->complete_ns);
}

/* The object's writable scalar globals (.bss, .data) after the run: counters the program keeps. */
static void rec_globals(struct rec *r, struct bpf_object *obj)
{
	struct btf *btf = bpf_object__btf(obj);
	rec_key(r, "globals");
	rec_puts(r, "{");
	bool first = true;
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj) {
		const char *dot = strrchr(bpf_map__name(map), '.');
		if (!btf || !dot || (strcmp(dot, ".bss") != 0 && strcmp(dot, ".data") != 0))
			continue;
		int sec_id = btf__find_by_name_kind(btf, dot, BTF_KIND_DATASEC);
		if (sec_id < 0)
			continue;
		char *value = calloc(1, bpf_map__value_size(map));
		__u32 key = 0;
		if (value && bpf_map_lookup_elem(bpf_map__fd(map), &key, value) == 0) {
			const struct btf_type *sec = btf__type_by_id(btf, (__u32)sec_id);
			const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
			for (int i = 0; i < btf_vlen(sec) && i < 32; i++, vs++) {
				if (vs->size != 1 && vs->size != 2 && vs->size != 4 && vs->size != 8)
					continue;
				const char *name = btf__name_by_offset(btf, btf__type_by_id(btf, vs->type)->name_off);
				uint64_t v = load_scalar(value + vs->offset, vs->size);
				if (!first)
					rec_puts(r, ",");
				first = false;
				rec_string(r, name, strlen(name));
				rec_fmt(r, ":%lld", vs->size == 8 ? (long long)v : vs->size == 4 ? (long long)(int32_t)v : (long long)v);
			}
		}
		free(value);
	}
	rec_puts(r, "}");
}

static uint16_t next_port = 40000;

/* ---------------------------------------------------------------------------------------------
 * Smoke: load one program and run it once (or run the iterator over a few sockets).
 * ------------------------------------------------------------------------------------------- */
/* Runs a loaded smoke program once (or its iterator over a few sockets) and finishes its record. */
static void smoke_run(struct rec *r, struct loaded *l, uint16_t port, bool port_set, const struct sock_scenario *sc)
{
	if (is_socket_iter(l)) {
		struct sock_result s = { .port_set = port_set };
		int e = sock_workload(l, SMOKE_SOCKETS, port, sc, &s);
		rec_bool(r, "ran", e == 0);
		rec_run_errno(r, e);
		rec_sock_result(r, SMOKE_SOCKETS, &s, is_tcp_iter(l));
		/* Like a C result: 0 when every socket (TCP: connection; listening: the listener) was
		 * aborted, else how many were not. */
		rec_i64(r, "retval", (sc->state == SOCK_LISTENING ? 1 : SMOKE_SOCKETS) - s.aborted);
		if (sc != &default_scenario)
			rec_str(r, "scenario", sc->family == AF_INET6 ? (sc->state == SOCK_LISTENING ? "ipv6/listening" : sc->state == SOCK_CLOSING ? "ipv6/closing" : "ipv6/established")
								      : (sc->state == SOCK_LISTENING ? "ipv4/listening" : sc->state == SOCK_CLOSING ? "ipv4/closing" : "ipv4/established"));
	} else {
		struct bpf_test_run_opts o;
		int e = test_run(l, 1, &o);
		rec_bool(r, "ran", e == 0);
		rec_run_errno(r, e);
		if (e == 0) {
			rec_u64(r, "retval", o.retval);
			rec_i64(r, "retval_signed", (int32_t)o.retval);
		}
	}
	rec_globals(r, l->obj);
}

static void cmd_smoke(char **f, int n)
{
	/* smoke <module> <name> <object> <program> <expect: retval|reject|load> [<family>/<state>] */
	if (n < 5)
		return;
	struct sock_scenario scenario = default_scenario;
	const struct sock_scenario *sc = &default_scenario;
	if (n >= 7) {
		if (!parse_scenario(f[6], &scenario)) {
			struct rec e = rec_begin("error");
			rec_str(&e, "detail", "unknown socket scenario (want <ipv4|ipv6>/<established|listening|closing>)");
			rec_str(&e, "command", f[6]);
			rec_end(&e);
		} else {
			sc = &scenario;
		}
	}
	struct loaded l;
	begin_step("smoke", f[1], f[2]);
	struct rec r = rec_begin("smoke");
	rec_str(&r, "module", f[1]);
	rec_str(&r, "name", f[2]);
	rec_str(&r, "program", f[4]);
	uint64_t t0 = now_ns();
	uint16_t port = next_port++;
	bool port_set = false;
	if (open_object(&l, f[3], f[4]) == 0) {
		if (is_socket_iter(&l))
			port_set = set_global(l.obj, "target_port", port);
		load_object(&l);
	}
	uint64_t t1 = now_ns();
	rec_program(&r, &l);
	rec_u64(&r, "load_ns", t1 - t0);
	/* "load": an upstream selftest without __retval is only loaded, as upstream's loader does */
	if (l.err == 0 && !(n >= 6 && strcmp(f[5], "load") == 0))
		smoke_run(&r, &l, port, port_set, sc);
	rec_u64(&r, "ns", now_ns() - t0);
	rec_end(&r);
	bpf_object__close(l.obj);
}

/*
 * Several smoke programs of one object that are all expected to load: one bpf_object__load for all
 * of them (libbpf reads the kernel's BTF once per load, the dominant cost under TCG), then each runs
 * and gets its own record. If the joint load fails, each program is loaded on its own, so every
 * failure keeps its own verifier log. Returns false when the batch could not be used.
 */
static bool smoke_batch(char ***lines, int count)
{
	struct loaded l;
	memset(&l, 0, sizeof(l));
	loader_log_reset();
	uint64_t t0 = now_ns();
	l.obj = bpf_object__open_file(lines[0][3], NULL);
	if (!l.obj)
		return false;
	struct bpf_program *p;
	bool has_iter = false, all_found = true;
	bpf_object__for_each_program(p, l.obj) {
		bool wanted = false;
		for (int i = 0; i < count; i++)
			wanted |= strcmp(bpf_program__name(p), lines[i][4]) == 0;
		bpf_program__set_autoload(p, wanted);
		if (wanted) {
			l.prog = p;
			has_iter |= is_socket_iter(&l);
		}
	}
	for (int i = 0; i < count; i++)
		all_found &= bpf_object__find_program_by_name(l.obj, lines[i][4]) != NULL;
	uint16_t port = next_port++;
	bool port_set = has_iter && set_global(l.obj, "target_port", port);
	if (!all_found || bpf_object__load(l.obj) != 0) {
		bpf_object__close(l.obj);
		return false;
	}
	uint64_t load_ns = now_ns() - t0;
	for (int i = 0; i < count; i++) {
		char **f = lines[i];
		begin_step("smoke", f[1], f[2]);
		uint64_t t1 = now_ns();
		l.prog = bpf_object__find_program_by_name(l.obj, f[4]);
		l.err = 0;
		struct rec r = rec_begin("smoke");
		rec_str(&r, "module", f[1]);
		rec_str(&r, "name", f[2]);
		rec_str(&r, "program", f[4]);
		rec_program(&r, &l);
		rec_u64(&r, "load_ns", load_ns / (uint64_t)count);
		rec_i64(&r, "batch", count);
		smoke_run(&r, &l, port, port_set, &default_scenario);
		rec_u64(&r, "ns", now_ns() - t1 + load_ns / (uint64_t)count);
		rec_end(&r);
	}
	bpf_object__close(l.obj);
	return true;
}

/* ---------------------------------------------------------------------------------------------
 * Load profiles
 * ------------------------------------------------------------------------------------------- */
static void cmd_load(char **f, int n)
{
	/* load <module> <name> <object> <program|-> <test_run|socket_iterator> <count> */
	if (n < 7)
		return;
	const char *driver = f[5];
	long count = strtol(f[6], NULL, 10);
	struct loaded l;
	begin_step("load", f[1], f[2]);
	struct rec r = rec_begin("load");
	rec_str(&r, "module", f[1]);
	rec_str(&r, "name", f[2]);
	rec_str(&r, "driver", driver);
	uint64_t t0 = now_ns();
	uint16_t port = next_port++;
	bool port_set = false;
	if (open_object(&l, f[3], f[4]) == 0) {
		if (is_socket_iter(&l))
			port_set = set_global(l.obj, "target_port", port);
		load_object(&l);
	}
	rec_program(&r, &l);
	if (l.err == 0 && strcmp(driver, "test_run") == 0) {
		struct bpf_test_run_opts o;
		uint64_t a = now_ns();
		int e = test_run(&l, (int)count, &o);
		uint64_t b = now_ns();
		rec_bool(&r, "ran", e == 0);
		rec_run_errno(&r, e);
		rec_i64(&r, "repeat", count);
		if (e == 0) {
			rec_u64(&r, "retval", o.retval);
			rec_u64(&r, "kernel_ns_per_call", o.duration);
			rec_u64(&r, "wall_ns", b - a);
		}
	} else if (l.err == 0 && strcmp(driver, "socket_iterator") == 0) {
		if (!is_socket_iter(&l)) {
			rec_bool(&r, "ran", false);
			rec_run_errno(&r, EINVAL);
			rec_str(&r, "detail", "socket_iterator needs an iter/tcp or iter/udp program");
		} else {
			struct sock_result s = { .port_set = port_set };
			int e = sock_workload(&l, count, port, &default_scenario, &s);
			rec_bool(&r, "ran", e == 0);
			rec_run_errno(&r, e);
			rec_sock_result(&r, count, &s, is_tcp_iter(&l));
		}
	}
	if (l.err == 0)
		rec_globals(&r, l.obj);
	rec_u64(&r, "ns", now_ns() - t0);
	rec_end(&r);
	bpf_object__close(l.obj);
}

/* ---------------------------------------------------------------------------------------------
 * Worker and supervisor
 * ------------------------------------------------------------------------------------------- */
static void bring_up_loopback(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
}

static char *read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

static int worker(const char *manifest_path)
{
	uint64_t t0 = now_ns();
	libbpf_set_print(loader_print);
	verifier_log = malloc(VERIFIER_LOG_SIZE);
	bring_up_loopback();
	char *manifest = read_file(manifest_path);
	if (!manifest) {
		struct rec r = rec_begin("error");
		rec_str(&r, "detail", "cannot read the manifest");
		rec_errno(&r, errno);
		rec_end(&r);
		return 2;
	}
	/* Split every line first: consecutive smoke lines may be handled together. */
	size_t cap = 64, count = 0;
	char ***lines = malloc(cap * sizeof(*lines));
	int *nfields = malloc(cap * sizeof(*nfields));
	char *save = NULL;
	for (char *line = strtok_r(manifest, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (count == cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof(*lines));
			nfields = realloc(nfields, cap * sizeof(*nfields));
		}
		lines[count] = malloc(MAX_FIELDS * sizeof(char *));
		nfields[count] = split_tabs(line, lines[count]);
		count++;
	}
	for (size_t i = 0; i < count; i++) {
		char **f = lines[i];
		int n = nfields[i];
		if (strcmp(f[0], "module") == 0) {
			cmd_module(f, n);
		} else if (strcmp(f[0], "smoke") == 0) {
			size_t j = i;
			/* Lines with a socket scenario (field 7) run alone: each gets its own port. */
			bool positive = n == 6 && strcmp(f[5], "retval") == 0;
			while (positive && j + 1 < count && nfields[j + 1] == 6 && strcmp(lines[j + 1][0], "smoke") == 0 &&
			       strcmp(lines[j + 1][5], "retval") == 0 && strcmp(lines[j + 1][3], f[3]) == 0)
				j++;
			if (j == i || !smoke_batch(&lines[i], (int)(j - i + 1)))
				for (size_t k = i; k <= j; k++)
					cmd_smoke(lines[k], nfields[k]);
			i = j;
		} else if (strcmp(f[0], "load") == 0) {
			cmd_load(f, n);
		} else if (strcmp(f[0], "run") == 0) {
			cmd_run(f, n);
		} else if (strcmp(f[0], "write") == 0) {
			cmd_write(f, n);
		} else if (strcmp(f[0], "mount") == 0) {
			cmd_mount(f, n);
		} else if (strcmp(f[0], "unlink") == 0) {
			cmd_unlink(f, n);
		} else if (strcmp(f[0], "crash") == 0) {
			raise(SIGSEGV); /* fault injection: proves the supervisor reports a dead agent */
		} else if (f[0][0] && f[0][0] != '#' && strcmp(f[0], "boot") != 0 && strcmp(f[0], "kff-manifest") != 0) {
			struct rec r = rec_begin("error");
			rec_str(&r, "detail", "unknown manifest command");
			rec_str(&r, "command", f[0]);
			rec_end(&r);
		}
	}
	struct rec r = rec_begin("done");
	rec_u64(&r, "ns", now_ns() - t0);
	char *tainted = read_file("/proc/sys/kernel/tainted");
	rec_i64(&r, "tainted", tainted ? strtoll(tainted, NULL, 10) : -1);
	free(tainted);
	rec_end(&r);
	return 0;
}

/* The boot id is the manifest's "boot" line; it ties records to the boot the host started. */
static void read_boot_id(const char *manifest_path)
{
	char *m = read_file(manifest_path);
	if (!m)
		return;
	char *save = NULL;
	for (char *line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "boot\t", 5) == 0) {
			boot_id = strdup(line + 5);
			break;
		}
	free(m);
}

static int open_records(const char *path)
{
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_CREAT | O_APPEND, 0644);
	if (fd >= 0 && isatty(fd)) {
		struct termios t;
		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			cfsetospeed(&t, B115200);
			tcsetattr(fd, TCSANOW, &t);
		}
	}
	return fd;
}

static void hello(void)
{
	struct utsname u;
	uname(&u);
	struct rec r = rec_begin("hello");
	rec_str(&r, "kernel", u.release);
	rec_u64(&r, "boottime_ns", clock_ns(CLOCK_BOOTTIME));
	rec_str(&r, "libbpf", libbpf_version_string());
	/* The fault detectors in force (the fidelity run lowers them on the command line): -1 when absent. */
	static const char *const detectors[][2] = {
		{ "hung_task_timeout_secs", "/proc/sys/kernel/hung_task_timeout_secs" },
		{ "watchdog_thresh", "/proc/sys/kernel/watchdog_thresh" },
		{ "soft_watchdog", "/proc/sys/kernel/soft_watchdog" },
	};
	for (size_t i = 0; i < sizeof(detectors) / sizeof(detectors[0]); i++) {
		char *v = read_file(detectors[i][1]);
		rec_i64(&r, detectors[i][0], v ? strtoll(v, NULL, 10) : -1);
		free(v);
	}
	rec_end(&r);
}

static int supervise(const char *manifest_path)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(worker(manifest_path));
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	struct rec r = rec_begin("exit");
	if (pid < 0) {
		rec_errno(&r, errno);
	} else if (WIFSIGNALED(status)) {
		rec_i64(&r, "signal", WTERMSIG(status));
		rec_str(&r, "signal_name", strsignal(WTERMSIG(status)));
	} else {
		rec_i64(&r, "code", WEXITSTATUS(status));
	}
	rec_end(&r);
	return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	const char *manifest = "/kff/manifest", *records = "/dev/ttyS1";
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--manifest=", 11) == 0)
			manifest = argv[i] + 11;
		else if (strncmp(argv[i], "--records=", 10) == 0)
			records = argv[i] + 10;
	}
	if (getpid() != 1) {
		read_boot_id(manifest);
		records_fd = open_records(records);
		if (records_fd < 0) {
			perror(records);
			return 2;
		}
		hello();
		return supervise(manifest);
	}

	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	mount("bpffs", "/sys/fs/bpf", "bpf", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	read_boot_id(manifest);
	records_fd = open_records(records);
	hello();
	supervise(manifest);
	if (records_fd >= 0) {
		tcdrain(records_fd);
		close(records_fd);
	}
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

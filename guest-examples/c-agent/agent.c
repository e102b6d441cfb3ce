// The example agent in C: the same steps and the same JSON report as
// `guest-examples/rust-agent`. Given a task name as input it:
//
// 1. describes its sandbox (info, capabilities);
// 2. runs a command and checks its output;
// 3. streams a longer command's output as it is produced;
// 4. writes a small project (three files, one streamed), lists and reads it back;
// 5. persists a snapshot of the project;
// 6. changes the project (edits, deletes, adds files);
// 7. hydrates the snapshot back and checks every file is as it was;
// 8. reads its network policy (or notes that the backend has none);
// 9. asks a model for a one-word reply, if the policy defines one;
// 10. logs each step to the host;
//
// and returns one JSON report.
//
// `agent.h` is generated from `../../wit` by wit-bindgen's C generator
// (`./build.sh` writes it to `gen/`). Every import that returns
// `result<T, error>` is a function returning `bool` (true: `*ret` is set,
// false: `*err` is set); strings and lists the host returns are malloc'd
// and ours to free. The host throws the whole instance away after a run,
// so early returns on errors do not bother freeing.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

typedef openshell_sandbox_types_error_t error_t_;
typedef openshell_sandbox_types_borrow_sandbox_t sandbox_t;

// ---------------------------------------------------------------------------
// A growable byte buffer and a small JSON writer (keys keep their order).

typedef struct {
  char *ptr;
  size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *data, size_t len) {
  if (b->len + len + 1 > b->cap) {
    b->cap = (b->len + len + 1) * 2;
    b->ptr = realloc(b->ptr, b->cap);
    if (!b->ptr) abort();
  }
  memcpy(b->ptr + b->len, data, len);
  b->len += len;
  b->ptr[b->len] = 0;
}

static void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

// printf into a new malloc'd string.
static char *fmt(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(NULL, 0, format, ap);
  va_end(ap);
  char *s = malloc((size_t)n + 1);
  if (!s) abort();
  va_start(ap, format);
  vsnprintf(s, (size_t)n + 1, format, ap);
  va_end(ap);
  return s;
}

static void json_quote(buf_t *b, const char *s, size_t len) {
  buf_puts(b, "\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') buf_puts(b, "\\\"");
    else if (c == '\\') buf_puts(b, "\\\\");
    else if (c == '\n') buf_puts(b, "\\n");
    else if (c == '\r') buf_puts(b, "\\r");
    else if (c == '\t') buf_puts(b, "\\t");
    // The short forms serde_json, Python's json and JSON.stringify write,
    // so the four example agents' reports stay identical.
    else if (c == '\b') buf_puts(b, "\\b");
    else if (c == '\f') buf_puts(b, "\\f");
    else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_puts(b, esc);
    } else buf_put(b, &s[i], 1);
  }
  buf_puts(b, "\"");
}

typedef struct {
  buf_t *b;
  int fields;
} obj_t;

static obj_t obj_begin(buf_t *b) {
  buf_puts(b, "{");
  return (obj_t){b, 0};
}
static void obj_end(obj_t *o) { buf_puts(o->b, "}"); }
static void key(obj_t *o, const char *k) {
  if (o->fields++) buf_puts(o->b, ",");
  json_quote(o->b, k, strlen(k));
  buf_puts(o->b, ":");
}
static void put_str(obj_t *o, const char *k, const char *v, size_t len) {
  key(o, k);
  json_quote(o->b, v, len);
}
static void put_bool(obj_t *o, const char *k, bool v) {
  key(o, k);
  buf_puts(o->b, v ? "true" : "false");
}
static void put_int(obj_t *o, const char *k, long long v) {
  key(o, k);
  char n[24];
  snprintf(n, sizeof n, "%lld", v);
  buf_puts(o->b, n);
}
// Start a nested object under `k`; close it with obj_end.
static obj_t put_obj(obj_t *o, const char *k) {
  key(o, k);
  return obj_begin(o->b);
}

// ---------------------------------------------------------------------------
// Sandbox helpers.

static agent_string_t str(const char *s) {
  agent_string_t r;
  agent_string_set(&r, s);
  return r;
}

static bool bytes_eq(const uint8_t *p, size_t len, const char *s) { return len == strlen(s) && memcmp(p, s, len) == 0; }

// Append `not-found`, ..., `backend:http-500`.
static void put_code(buf_t *b, const openshell_sandbox_types_error_code_t *code) {
  switch (code->tag) {
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_NOT_FOUND: buf_puts(b, "not-found"); break;
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_PERMISSION_DENIED: buf_puts(b, "permission-denied"); break;
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_TIMEOUT: buf_puts(b, "timeout"); break;
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_TOO_LARGE: buf_puts(b, "too-large"); break;
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_INVALID_ARGUMENT: buf_puts(b, "invalid-argument"); break;
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_UNAVAILABLE: buf_puts(b, "unavailable"); break;
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_CONFLICT: buf_puts(b, "conflict"); break;
    case OPENSHELL_SANDBOX_TYPES_ERROR_CODE_UNSUPPORTED: buf_puts(b, "unsupported"); break;
    default:
      buf_puts(b, "backend:");
      buf_put(b, code->val.backend.ptr, code->val.backend.len);
  }
}

// Set `*out` to `op failed (code): message` (as the Rust guest SDK prints
// it) and return false, for `return failed(err, &e);`.
static bool failed(agent_string_t *out, error_t_ *e) {
  buf_t b = {0};
  buf_put(&b, e->operation.ptr, e->operation.len);
  buf_puts(&b, " failed (");
  put_code(&b, &e->code);
  buf_puts(&b, "): ");
  buf_put(&b, e->message.ptr, e->message.len);
  openshell_sandbox_types_error_free(e);
  out->ptr = (uint8_t *)b.ptr;
  out->len = b.len;
  return false;
}

// Run a fallible import; on failure, return the error as the agent's.
#define TRY(call)                             \
  do {                                        \
    if (!(call)) return failed(err, &error); \
  } while (0)

static void step(const char *name, bool ok) {
  char *message = fmt("step %s", name);
  agent_tuple2_string_string_t field = {str("ok"), str(ok ? "true" : "false")};
  agent_list_tuple2_string_string_t fields = {&field, 1};
  agent_string_t m = str(message);
  openshell_sandbox_log_log(ok ? OPENSHELL_SANDBOX_LOG_LEVEL_INFO : OPENSHELL_SANDBOX_LOG_LEVEL_ERROR, &m, &fields);
  free(message);
}

static openshell_sandbox_fs_write_options_t write_options(void) {
  return (openshell_sandbox_fs_write_options_t){.mode = {.is_some = false}, .create_parents = true, .exclusive = false};
}

// Write a whole file atomically, creating parent directories.
static bool write_text(sandbox_t sb, const char *path, const char *text, error_t_ *error) {
  agent_string_t p = str(path);
  agent_list_u8_t data = {(uint8_t *)text, strlen(text)};
  openshell_sandbox_fs_write_options_t options = write_options();
  openshell_sandbox_fs_file_stat_t stat;
  if (!openshell_sandbox_fs_write_file(sb, &p, &data, &options, &stat, error)) return false;
  openshell_sandbox_fs_file_stat_free(&stat);
  return true;
}

// Whether the file at `path` holds exactly `text`.
static bool file_is(sandbox_t sb, const char *path, const char *text, bool *is, error_t_ *error) {
  agent_string_t p = str(path);
  agent_list_u8_t data;
  if (!openshell_sandbox_fs_read_file(sb, &p, NULL, &data, error)) return false;
  *is = bytes_eq(data.ptr, data.len, text);
  agent_list_u8_free(&data);
  return true;
}

static bool exists(sandbox_t sb, const char *path, bool *yes, error_t_ *error) {
  agent_string_t p = str(path);
  return openshell_sandbox_fs_exists(sb, &p, yes, error);
}

static bool is_trimmed(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Append the model step's report value to `*out`: `none` when the policy
// defines no model, else the default model's reply to a one-word prompt,
// or `error: <code>`. C has no HTTP client here; the host makes the request.
static void ask_model(buf_t *out) {
  agent_list_string_t aliases;
  openshell_sandbox_model_aliases(&aliases);
  size_t count = aliases.len;
  agent_list_string_free(&aliases);
  if (count == 0) {
    buf_puts(out, "none");
    return;
  }
  openshell_sandbox_model_message_t messages[] = {
      {.role = OPENSHELL_SANDBOX_MODEL_ROLE_SYSTEM, .content = {.is_some = true, .val = str("You are terse.")}},
      {.role = OPENSHELL_SANDBOX_MODEL_ROLE_USER, .content = {.is_some = true, .val = str("Reply with one word: pong")}},
  };
  // Zeroed: model "" (the policy's default alias), no tools, no options.
  openshell_sandbox_model_request_t request = {0};
  request.messages = (openshell_sandbox_model_list_message_t){messages, 2};
  openshell_sandbox_model_completion_t answer;
  error_t_ error;
  if (!openshell_sandbox_model_complete(&request, &answer, &error)) {
    buf_puts(out, "error: ");
    put_code(out, &error.code);
    openshell_sandbox_types_error_free(&error);
    return;
  }
  // Only ASCII whitespace, so that the four example agents trim alike.
  const char *text = "";
  size_t start = 0, end = 0;
  if (answer.message.content.is_some) {
    text = (const char *)answer.message.content.val.ptr;
    end = answer.message.content.val.len;
  }
  while (start < end && is_trimmed(text[start])) start++;
  while (end > start && is_trimmed(text[end - 1])) end--;
  buf_put(out, text + start, end - start);
  openshell_sandbox_model_completion_free(&answer);
}

static int compare_names(const void *a, const void *b) {
  const agent_string_t *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->ptr, y->ptr, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

// ---------------------------------------------------------------------------
// The agent.

bool exports_agent_run(agent_string_t *input, agent_string_t *ret, agent_string_t *err) {
  error_t_ error;

  // The task: the input without surrounding whitespace, or "demo".
  size_t start = 0, end = input->len;
  while (start < end && strchr(" \t\r\n\f\v", input->ptr[start])) start++;
  while (end > start && strchr(" \t\r\n\f\v", input->ptr[end - 1])) end--;
  char *task = end > start ? fmt("%.*s", (int)(end - start), (const char *)input->ptr + start) : fmt("demo");
  agent_string_free(input);

  openshell_sandbox_lifecycle_own_sandbox_t own = openshell_sandbox_lifecycle_current();
  sandbox_t sb = openshell_sandbox_types_borrow_sandbox(own);
  buf_t out = {0};
  obj_t report = obj_begin(&out);
  put_str(&report, "agent", "c", 1);
  put_str(&report, "task", task, strlen(task));

  // 1. The sandbox.
  openshell_sandbox_types_sandbox_info_t info;
  TRY(openshell_sandbox_types_method_sandbox_info(sb, &info, &error));
  openshell_sandbox_types_capabilities_t caps;
  openshell_sandbox_types_method_sandbox_capabilities(sb, &caps);
  obj_t o = put_obj(&report, "sandbox");
  put_str(&o, "backend", (const char *)info.backend.ptr, info.backend.len);
  put_str(&o, "workdir", (const char *)info.workdir.ptr, info.workdir.len);
  put_bool(&o, "owned", info.owned);
  obj_end(&o);
  openshell_sandbox_types_sandbox_info_free(&info);
  o = put_obj(&report, "capabilities");
  put_bool(&o, "streaming", caps.streaming);
  put_bool(&o, "pty", caps.pty);
  put_bool(&o, "snapshots", caps.snapshots);
  put_bool(&o, "network_policy", caps.network_policy);
  obj_end(&o);

  // 2. A command.
  char *greeting = fmt("hello from %s", task);
  char *expected = fmt("%s\n", greeting);
  agent_string_t echo_argv[] = {str("echo"), str(greeting)};
  agent_list_string_t argv = {echo_argv, 2};
  openshell_sandbox_process_run_options_t run_options = {0};
  openshell_sandbox_process_run_output_t hello;
  TRY(openshell_sandbox_process_run(sb, &argv, &run_options, &hello, &error));
  bool exec_ok = hello.exit_code == 0 && !hello.timed_out && bytes_eq(hello.stdout_.ptr, hello.stdout_.len, expected);
  size_t shown = hello.stdout_.len;
  while (shown > 0 && strchr(" \t\r\n\f\v", hello.stdout_.ptr[shown - 1])) shown--;
  step("exec", exec_ok);
  o = put_obj(&report, "exec");
  put_bool(&o, "ok", exec_ok);
  put_str(&o, "stdout", (const char *)hello.stdout_.ptr, shown);
  obj_end(&o);
  openshell_sandbox_process_run_output_free(&hello);

  // 3. Streaming.
  agent_string_t sh_argv[] = {str("sh"), str("-c"), str("for i in 1 2 3 4 5; do echo tick $i; sleep 0.05; done")};
  argv = (agent_list_string_t){sh_argv, 3};
  openshell_sandbox_process_spawn_options_t spawn_options = {0};
  openshell_sandbox_process_own_process_t process;
  TRY(openshell_sandbox_process_spawn(sb, &argv, &spawn_options, &process, &error));
  openshell_sandbox_process_borrow_process_t p = openshell_sandbox_process_borrow_process(process);
  int chunks = 0, code = -1;
  buf_t text = {0};
  for (bool done = false; !done;) {
    openshell_sandbox_process_process_event_t event;
    TRY(openshell_sandbox_process_method_process_next_event(p, NULL, &event, &error));
    if (event.tag == OPENSHELL_SANDBOX_PROCESS_PROCESS_EVENT_STDOUT) {
      chunks++;
      buf_put(&text, event.val.stdout_.ptr, event.val.stdout_.len);
    } else if (event.tag == OPENSHELL_SANDBOX_PROCESS_PROCESS_EVENT_EXITED) {
      code = event.val.exited.exit_code;
      done = true;
    }
    openshell_sandbox_process_process_event_free(&event);
  }
  openshell_sandbox_process_process_drop_own(process);
  int lines = 0;
  for (size_t i = 0; i < text.len; i++) lines += text.ptr[i] == '\n';
  if (text.len > 0 && text.ptr[text.len - 1] != '\n') lines++;
  bool stream_ok = code == 0 && lines == 5 && chunks >= 2;
  step("stream", stream_ok);
  o = put_obj(&report, "stream");
  put_bool(&o, "ok", stream_ok);
  put_int(&o, "lines", lines);
  put_int(&o, "exit_code", code);
  obj_end(&o);

  // 4. Files.
  char *project = fmt("%s-project", task);
  char *readme = fmt("%s/README.md", project);
  char *main_txt = fmt("%s/src/main.txt", project);
  char *data_bin = fmt("%s/data.bin", project);
  char *scratch = fmt("%s/scratch.tmp", project);
  char *heading = fmt("# %s\n", task);
  TRY(write_text(sb, readme, heading, &error));
  TRY(write_text(sb, main_txt, "first version\n", &error));
  agent_string_t path = str(data_bin);
  openshell_sandbox_fs_write_options_t options = write_options();
  openshell_sandbox_fs_own_file_writer_t writer;
  TRY(openshell_sandbox_fs_open_write(sb, &path, &options, &writer, &error));
  openshell_sandbox_fs_borrow_file_writer_t w = openshell_sandbox_fs_borrow_file_writer(writer);
  static uint8_t block[4096];
  for (int i = 0; i < 16; i++) {
    memset(block, i, sizeof block);
    agent_list_u8_t chunk = {block, sizeof block};
    TRY(openshell_sandbox_fs_method_file_writer_write(w, &chunk, &error));
  }
  openshell_sandbox_fs_file_stat_t data;
  TRY(openshell_sandbox_fs_method_file_writer_finish(w, &data, &error));
  openshell_sandbox_fs_file_writer_drop_own(writer);
  path = str(project);
  openshell_sandbox_fs_list_dir_entry_t entries;
  TRY(openshell_sandbox_fs_list_dir(sb, &path, &entries, &error));
  agent_string_t *names = calloc(entries.len + 1, sizeof *names);
  for (size_t i = 0; i < entries.len; i++) names[i] = entries.ptr[i].name;
  qsort(names, entries.len, sizeof *names, compare_names);
  static const char *const want[] = {"README.md", "data.bin", "src"};
  bool listed_ok = entries.len == 3;
  for (size_t i = 0; listed_ok && i < 3; i++) listed_ok = bytes_eq(names[i].ptr, names[i].len, want[i]);
  bool read_back;
  TRY(file_is(sb, main_txt, "first version\n", &read_back, &error));
  bool files_ok = read_back && data.size == 16 * 4096 && listed_ok;
  step("files", files_ok);
  o = put_obj(&report, "files");
  put_bool(&o, "ok", files_ok);
  key(&o, "listed");
  buf_puts(&out, "[");
  for (size_t i = 0; i < entries.len; i++) {
    if (i) buf_puts(&out, ",");
    json_quote(&out, (const char *)names[i].ptr, names[i].len);
  }
  buf_puts(&out, "]");
  put_int(&o, "data_bytes", (long long)data.size);
  put_bool(&o, "read_back", read_back);
  obj_end(&o);
  free(names);
  openshell_sandbox_fs_list_dir_entry_free(&entries);
  openshell_sandbox_fs_file_stat_free(&data);

  // 5. Snapshot.
  path = str(project);
  agent_list_string_t no_excludes = {NULL, 0};
  openshell_sandbox_snapshot_snapshot_info_t snap;
  TRY(openshell_sandbox_snapshot_persist(sb, &path, &no_excludes, &snap, &error));
  step("snapshot", true);
  o = put_obj(&report, "snapshot");
  put_bool(&o, "ok", true);
  put_int(&o, "entries", snap.entries);
  put_bool(&o, "sha256", snap.sha256.len == 64);
  obj_end(&o);

  // 6. Change things.
  TRY(write_text(sb, main_txt, "second version\n", &error));
  path = str(readme);
  TRY(openshell_sandbox_fs_remove(sb, &path, false, &error));
  TRY(write_text(sb, scratch, "temporary\n", &error));
  bool changed;
  TRY(file_is(sb, main_txt, "second version\n", &changed, &error));
  step("mutate", changed);
  o = put_obj(&report, "mutate");
  put_bool(&o, "ok", changed);
  obj_end(&o);

  // 7. Hydrate and check.
  path = str(project);
  TRY(openshell_sandbox_snapshot_hydrate(sb, &snap.id, &path, OPENSHELL_SANDBOX_SNAPSHOT_HYDRATE_MODE_REPLACE, &error));
  bool main_restored, readme_restored, scratch_exists;
  TRY(file_is(sb, main_txt, "first version\n", &main_restored, &error));
  TRY(exists(sb, readme, &readme_restored, &error));
  TRY(exists(sb, scratch, &scratch_exists, &error));
  path = str(data_bin);
  agent_list_u8_t back;
  TRY(openshell_sandbox_fs_read_file(sb, &path, NULL, &back, &error));
  bool data_ok = back.len == 16 * 4096;
  for (size_t i = 0; data_ok && i < back.len; i++) data_ok = back.ptr[i] == i / 4096;
  agent_list_u8_free(&back);
  bool hydrate_ok = main_restored && readme_restored && !scratch_exists && data_ok;
  step("hydrate", hydrate_ok);
  o = put_obj(&report, "hydrate");
  put_bool(&o, "ok", hydrate_ok);
  put_bool(&o, "content_restored", main_restored && data_ok);
  put_bool(&o, "deleted_file_back", readme_restored);
  put_bool(&o, "new_file_removed", !scratch_exists);
  obj_end(&o);
  if (!openshell_sandbox_snapshot_delete(&snap.id, &error)) openshell_sandbox_types_error_free(&error);
  openshell_sandbox_snapshot_snapshot_info_free(&snap);

  // 8. Network policy.
  char *policy;
  openshell_sandbox_network_policy_status_t status;
  if (openshell_sandbox_network_get_policy(sb, &status, &error)) {
    policy = fmt("v%u", status.active_version);
    openshell_sandbox_network_policy_status_free(&status);
  } else if (error.code.tag == OPENSHELL_SANDBOX_TYPES_ERROR_CODE_UNSUPPORTED) {
    policy = fmt("unsupported");
  } else if (error.code.tag == OPENSHELL_SANDBOX_TYPES_ERROR_CODE_PERMISSION_DENIED) {
    policy = fmt("denied");
  } else if (error.code.tag == OPENSHELL_SANDBOX_TYPES_ERROR_CODE_NOT_FOUND) {
    policy = fmt("none");
  } else {
    return failed(err, &error);
  }
  step("network", true);
  o = put_obj(&report, "network");
  put_bool(&o, "ok", true);
  put_str(&o, "policy", policy, strlen(policy));
  obj_end(&o);

  // 9. A model.
  buf_t reply = {0};
  ask_model(&reply);
  put_str(&report, "model", reply.ptr, reply.len);
  free(reply.ptr);
  step("model", true);

  put_bool(&report, "ok", exec_ok && stream_ok && files_ok && changed && hydrate_ok);
  obj_end(&report);
  openshell_sandbox_types_sandbox_drop_own(own);

  // The result string is freed by the generated post-return function.
  ret->ptr = (uint8_t *)out.ptr;
  ret->len = out.len;
  return true;
}

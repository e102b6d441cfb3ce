// An openshell-wasm agent in C.
//
// `exports_agent_run` gets the text given to `openshell-wasm run --input`
// and returns the run's result. This one writes the input to a file in its
// sandbox, counts its words with `wc -w` there, and returns what `wc`
// printed. Everything it can do is in `wit/` (the `openshell:sandbox/agent`
// world); `./build.sh` generates `gen/agent.h` from it.
//
// Conventions of the generated bindings: an import returning
// `result<T, error>` is a function returning `bool` (true: `*ret` is set;
// false: `*err` is); what the host returns is malloc'd and yours to free
// (`..._free` functions); the strings you pass are only borrowed.

#include <stdlib.h>
#include <string.h>

#include "agent.h"

typedef openshell_sandbox_types_error_t sandbox_error_t;

// `*out` = "<operation> failed: <message>"; returns false.
static bool failed(agent_string_t *out, sandbox_error_t *e) {
  static const char middle[] = " failed: ";
  size_t len = e->operation.len + strlen(middle) + e->message.len;
  uint8_t *text = malloc(len);
  memcpy(text, e->operation.ptr, e->operation.len);
  memcpy(text + e->operation.len, middle, strlen(middle));
  memcpy(text + e->operation.len + strlen(middle), e->message.ptr, e->message.len);
  openshell_sandbox_types_error_free(e);
  *out = (agent_string_t){text, len};
  return false;
}

bool exports_agent_run(agent_string_t *input, agent_string_t *ret, agent_string_t *err) {
  sandbox_error_t error;

  // The sandbox the host bound to this run.
  openshell_sandbox_lifecycle_own_sandbox_t own = openshell_sandbox_lifecycle_current();
  openshell_sandbox_types_borrow_sandbox_t sandbox = openshell_sandbox_types_borrow_sandbox(own);

  // Paths are relative to the sandbox's workdir.
  agent_string_t path;
  agent_string_set(&path, "input.txt");
  agent_list_u8_t data = {input->ptr, input->len};
  openshell_sandbox_fs_write_options_t options = {.create_parents = true};
  openshell_sandbox_fs_file_stat_t stat;
  if (!openshell_sandbox_fs_write_file(sandbox, &path, &data, &options, &stat, &error)) return failed(err, &error);
  openshell_sandbox_fs_file_stat_free(&stat);
  agent_string_free(input);

  // Commands are argv lists, never shell strings.
  agent_string_t args[3];
  agent_string_set(&args[0], "wc");
  agent_string_set(&args[1], "-w");
  agent_string_set(&args[2], "input.txt");
  agent_list_string_t argv = {args, 3};
  openshell_sandbox_process_run_options_t run_options = {0};  // all defaults
  openshell_sandbox_process_run_output_t out;
  if (!openshell_sandbox_process_run(sandbox, &argv, &run_options, &out, &error)) return failed(err, &error);

  agent_string_t message, key, value;
  agent_string_set(&message, "counted words");
  agent_string_set(&key, "ok");
  agent_string_set(&value, out.exit_code == 0 ? "true" : "false");
  agent_tuple2_string_string_t field = {key, value};
  agent_list_tuple2_string_string_t fields = {&field, 1};
  openshell_sandbox_log_log(OPENSHELL_SANDBOX_LOG_LEVEL_INFO, &message, &fields);

  // The result: wc's output without surrounding whitespace. It must be
  // malloc'd: the generated code frees it after the host has read it.
  agent_list_u8_t *text = out.exit_code == 0 ? &out.stdout_ : &out.stderr_;
  size_t start = 0, end = text->len;
  while (start < end && strchr(" \t\r\n", text->ptr[start])) start++;
  while (end > start && strchr(" \t\r\n", text->ptr[end - 1])) end--;
  agent_string_dup_n(out.exit_code == 0 ? ret : err, (const char *)text->ptr + start, end - start);
  bool ok = out.exit_code == 0;
  openshell_sandbox_process_run_output_free(&out);
  openshell_sandbox_types_sandbox_drop_own(own);
  return ok;
}

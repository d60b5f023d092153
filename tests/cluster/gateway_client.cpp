// durable-gateway-client: a separate client program for the cluster tests.
//
//   durable-gateway-client <port> run <task> <int input>...
//     enqueues one execution of <task> per input (typed: int -> int), waits
//     for each and prints "<input> <status> <output>"; exit 0 if every
//     execution completed, 1 otherwise.
//   durable-gateway-client <port> sleep <sleeping id>
//     enqueues an execution of the sleeping task "approval", prints
//     "waiting <execution id>" and waits for it; prints "<status>" at the end.
//
// A durable::error prints "error: <kind> <message>" and exits 3.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "durable/client/client.hpp"

namespace {

int run(durable::client& c, const std::string& task,
        const std::vector<int>& inputs) {
  durable::task_ref<int, int> t{task};
  auto handles = c.enqueue_many(t, inputs);
  int code = 0;
  for (std::size_t i = 0; i < handles.size(); ++i) {
    auto done = handles[i].wait();
    std::printf("%d %s %s\n", inputs[i],
                std::string{durable::to_string(done.status())}.c_str(),
                done.output ? std::to_string(*done.output).c_str() : "-");
    if (!done.ok())
      code = 1;
  }
  return code;
}

int sleep(durable::client& c, const std::string& sleeping_id) {
  durable::task_ref<std::string, bool> approval{"approval"};
  auto h = c.enqueue(approval, sleeping_id);
  std::printf("waiting %s\n", h.execution_id().c_str());
  std::fflush(stdout);
  auto done = h.wait();
  std::printf("%s\n", std::string{durable::to_string(done.status())}.c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s <port> run <task> <input>... | "
                 "<port> sleep <sleeping id>\n",
                 argv[0]);
    return 2;
  }
  try {
    durable::client_options opts;
    opts.port = static_cast<std::uint16_t>(std::stoi(argv[1]));
    durable::client c{opts};
    std::string mode = argv[2];
    if (mode == "sleep")
      return sleep(c, argv[3]);
    std::vector<int> inputs;
    for (int i = 4; i < argc; ++i)
      inputs.push_back(std::stoi(argv[i]));
    return run(c, argv[3], inputs);
  } catch (const durable::error& e) {
    std::printf("error: %s %s\n", std::string{to_string(e.kind())}.c_str(),
                e.what());
    return 3;
  }
}

#include "plot.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

namespace durable::bench {

namespace {

using ptr = nlohmann::json::json_pointer;

double num(const nlohmann::json& j, const char* p) {
  ptr at{p};
  return j.contains(at) && j.at(at).is_number() ? j.at(at).get<double>() : 0;
}

// A peer's record (bench/peers) names the peer and whether its enqueue
// overlapped processing, so that it never replaces durable's run of the
// same workload, store and nodes.
std::string key_of(const nlohmann::json& j) {
  auto key = fmt::format("{}/{}/{}", j.value("workload", "?"),
                         j.value("store", "?"), j.value("nodes", 0));
  if (j.contains("peer"))
    key = fmt::format("{} {} {}", j.value("peer", "?"), key,
                      j.value("enqueue_overlaps_processing", false)
                        ? "overlapped"
                        : "processing");
  return key;
}

constexpr const char* script = R"gp(
set terminal pngcairo size 1200,600 noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set grid ytics
set key top right

set output 'throughput.png'
set title 'executions/s: engine vs ceiling (same run)'
set ylabel 'executions/s'
set logscale y
plot 'throughput.dat' using 2:xtic(1) title 'engine', '' using 3 title 'ceiling'

set output 'latency.png'
set title 'latency (ms): enqueue -> start and enqueue -> finish'
set ylabel 'ms'
plot 'latency.dat' using 2:xtic(1) title 'start p50', '' using 3 title 'start p90', \
     '' using 4 title 'start p99', '' using 5 title 'finish p50', \
     '' using 6 title 'finish p90', '' using 7 title 'finish p99'
)gp";

constexpr const char* sustained_script = R"gp(
set output 'sustained.png'
unset logscale y
set style data linespoints
set title 'sustained runs: executions/s per interval'
set xlabel 'seconds since the first enqueue'
set ylabel 'executions/s'
set yrange [0:*]
)gp";

} // namespace

void draw_plots(const std::vector<nlohmann::json>& records,
                const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::map<std::string, nlohmann::json> last;
  std::vector<nlohmann::json> sustained;
  for (const auto& r : records) {
    last[key_of(r)] = r;
    if (r.contains("intervals"))
      sustained.push_back(r);
  }
  {
    std::ofstream tp{dir + "/throughput.dat"};
    std::ofstream lat{dir + "/latency.dat"};
    for (const auto& [key, r] : last) {
      tp << fmt::format("\"{}\" {} {}\n", key, num(r, "/executions_per_s"),
                        num(r, "/ceiling_per_s"));
      lat << fmt::format("\"{}\" {} {} {} {} {} {}\n", key,
                         num(r, "/latency_ms/enqueue_to_start/p50"),
                         num(r, "/latency_ms/enqueue_to_start/p90"),
                         num(r, "/latency_ms/enqueue_to_start/p99"),
                         num(r, "/latency_ms/enqueue_to_finish/p50"),
                         num(r, "/latency_ms/enqueue_to_finish/p90"),
                         num(r, "/latency_ms/enqueue_to_finish/p99"));
    }
  }
  std::string gp = script;
  if (!sustained.empty()) {
    gp += sustained_script;
    std::string plot = "plot ";
    for (std::size_t i = 0; i < sustained.size(); ++i) {
      const auto& r = sustained[i];
      auto file = fmt::format("sustained-{}.dat", i);
      std::ofstream out{dir + "/" + file};
      auto width = num(r, "/intervals/seconds");
      const auto& rates = r.at(ptr{"/intervals/executions_per_s"});
      for (std::size_t k = 0; k < rates.size(); ++k)
        out << fmt::format("{} {}\n", width * static_cast<double>(k + 1),
                           rates[k].get<double>());
      plot += fmt::format("{}'{}' using 1:2 title '{} {}'", i ? ", " : "", file,
                          key_of(r), r.value("date", ""));
    }
    gp += plot + "\n";
  }
  {
    std::ofstream out{dir + "/plots.gp"};
    out << gp;
  }
  auto cmd = fmt::format("cd '{}' && gnuplot plots.gp", dir);
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error(
      "gnuplot failed (install the Debian package gnuplot-nox; scripts/"
      "setup.sh does) — the data and plots.gp are in "
      + dir);
}

} // namespace durable::bench

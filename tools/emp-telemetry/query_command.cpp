// `emp-telemetry query job <job_id>` and `emp-telemetry query trace
// <trace_id>`: read the viewer's SQLite file directly (read-only; a running
// `serve` may be writing it) and print a job's correlated timeline or a
// trace's span tree.
#include <iostream>

#include "commands.hpp"
#include "emp/telemetry/viewer.hpp"

namespace emp::telemetry::cli {

int run_query(const GlobalArgs&, const QueryArgs& args) {
  const auto result = args.kind == QueryArgs::Kind::kJob
                          ? viewer_query_job(args.db, args.id, args.json)
                          : viewer_query_trace(args.db, args.id, args.json);
  if (!result) {
    for (const auto& e : result.errors())
      std::cerr << "emp-telemetry query: " << e.to_string() << "\n";
    return 1;
  }
  std::cout << result.value();
  return 0;
}

}  // namespace emp::telemetry::cli

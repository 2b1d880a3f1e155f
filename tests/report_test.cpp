#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>

#include "report/table.hpp"

using namespace effscale;

TEST_CASE("CSV quotes only what needs quoting and keeps exact values", "[report]") {
  DataTable t;
  t.columns = {"name", "n", "x", "empty"};
  t.rows = {{std::string("a,b"), std::int64_t{385814752}, 1.15, Cell{}},
            {std::string("say \"hi\""), std::int64_t{-1}, 1.1 * 1.1, Cell{}}};
  std::ostringstream out;
  write_csv(t, out);
  CHECK(out.str() ==
        "name,n,x,empty\n"
        "\"a,b\",385814752,1.15,\n"
        "\"say \"\"hi\"\"\",-1,1.2100000000000002,\n");
}

TEST_CASE("JSON output parses and escapes control characters", "[report]") {
  DataTable t;
  t.columns = {"name", "n", "x"};
  t.rows = {{std::string("tab\there \"q\" \\ \x01"), std::int64_t{7}, 0.25},
            {std::string("nan"), Cell{}, std::numeric_limits<double>::quiet_NaN()}};
  std::ostringstream out;
  write_json(t, out, "rows", {{"meta", std::string("m")}});
  const auto j = nlohmann::json::parse(out.str());
  CHECK(j["meta"] == "m");
  CHECK(j["rows"][0]["name"] == "tab\there \"q\" \\ \x01");
  CHECK(j["rows"][0]["n"] == 7);
  CHECK(j["rows"][0]["x"] == 0.25);
  CHECK(j["rows"][1]["n"].is_null());
  CHECK(j["rows"][1]["x"].is_null());
}

TEST_CASE("text tables align columns, counting UTF-8 characters", "[report]") {
  TextTable t;
  t.headers = {"model", "Δ"};
  t.right_aligned = {false, true};
  t.rows = {{"b0", "1"}, {}, {"b10", "100"}};
  std::ostringstream out;
  write_text(t, out);
  CHECK(out.str() ==
        "model    Δ\n"
        "----------\n"
        "b0       1\n"
        "\n"
        "b10    100\n");
}

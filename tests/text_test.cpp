#include <catch2/catch.hpp>

#include "csv.hpp"
#include "error.hpp"
#include "text.hpp"

using namespace effscale;

TEST_CASE("parse_double accepts only complete finite decimals", "[text]") {
  CHECK(parse_double("1.15") == 1.15);
  CHECK(parse_double("2") == 2.0);
  CHECK(parse_double("1e-3") == 0.001);
  CHECK(parse_double("-0.5") == -0.5);
  for (const char* bad : {"", " 1", "1 ", "1.2.3", "abc", "nan", "NaN", "inf", "-inf", "1e999", "0x10", "+1", "1,5"}) {
    INFO(bad);
    CHECK_FALSE(parse_double(bad));
  }
}

TEST_CASE("parse_int rejects fractions, overflow and junk", "[text]") {
  CHECK(parse_int("224") == 224);
  CHECK(parse_int("-3") == -3);
  for (const char* bad : {"", "2.0", "1e3", "99999999999999999999", "12a", " 1"}) {
    INFO(bad);
    CHECK_FALSE(parse_int(bad));
  }
}

TEST_CASE("parse_bytes reads binary suffixes", "[text]") {
  CHECK(parse_bytes("1000") == 1000);
  CHECK(parse_bytes("512M") == 512ll << 20);
  CHECK(parse_bytes("8G") == 8ll << 30);
  CHECK(parse_bytes("1.5GiB") == (3ll << 30) / 2);
  CHECK_FALSE(parse_bytes("8X"));
  CHECK_FALSE(parse_bytes("-1G"));
  CHECK_FALSE(parse_bytes("G"));
  CHECK_FALSE(parse_bytes("1e30T"));
}

TEST_CASE("shortest spelling reads back exactly and does not drift", "[text]") {
  CHECK(shortest(1.15) == "1.15");
  CHECK(shortest(0.25) == "0.25");
  CHECK(shortest(2.0) == "2");
  CHECK(shortest(1.1 * 1.1) == "1.2100000000000002");
}

TEST_CASE("human units keep three significant figures", "[text]") {
  CHECK(human(5288548, 1e6) == "5.29");
  CHECK(human(385814752, 1e9) == "0.386");
  CHECK(human(37745884192, 1e9) == "37.7");
  CHECK(human(475.7e9, 1e9) == "476");
  CHECK(human_si(928) == "928");
  CHECK(human_si(3612672) == "3.61M");
  CHECK(human_bytes(6021120) == "5.74 MiB");
}

TEST_CASE("closest_match suggests near names only", "[text]") {
  CHECK(closest_match("tabel", {"table", "describe"}) == "table");
  CHECK(closest_match("zzzzzz", {"table", "describe"}).empty());
}

TEST_CASE("parse_csv handles quotes, CRLF and reports malformed quoting", "[text]") {
  auto rows = parse_csv("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\n3,\n", "t.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][0] == "x,1");
  CHECK(rows[1][1] == "say \"hi\"");
  CHECK(rows[2] == std::vector<std::string>{"3", ""});
  CHECK_THROWS_WITH(parse_csv("a,\"b\nc", "t.csv"), Catch::Contains("t.csv:1: unterminated"));
  CHECK_THROWS_WITH(parse_csv("a\n\"b\"x", "t.csv"), Catch::Contains("t.csv:2: text after a closing quote"));
}

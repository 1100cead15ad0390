// gp::text: edit distance, "did you mean", XML escaping, number text. Known values are worked by
// hand (Levenshtein tables, the shortest decimal that reads back, %g rounding).
#include "gp/text.hpp"

#include <gtest/gtest.h>

#include <clocale>
#include <limits>

namespace gt = gp::text;

TEST(EditDistance, EmptyAndIdentical) {
  EXPECT_EQ(gt::edit_distance("", ""), 0u);
  EXPECT_EQ(gt::edit_distance("", "abc"), 3u);
  EXPECT_EQ(gt::edit_distance("abc", ""), 3u);
  EXPECT_EQ(gt::edit_distance("weight", "weight"), 0u);
}

TEST(EditDistance, KnownValues) {
  EXPECT_EQ(gt::edit_distance("kitten", "sitting"), 3u);  // k->s, e->i, +g
  EXPECT_EQ(gt::edit_distance("flaw", "lawn"), 2u);       // -f, +n
  EXPECT_EQ(gt::edit_distance("wieght", "weight"), 2u);   // two substitutions (no transposition)
  EXPECT_EQ(gt::edit_distance("CON", "CONUS"), 2u);
  EXPECT_EQ(gt::edit_distance("abc", "cba"), 2u);
}

TEST(DidYouMean, EmptyCandidates) { EXPECT_EQ(gt::did_you_mean("weight", {}), ""); }

TEST(DidYouMean, ClosestWithinDistance) {
  EXPECT_EQ(gt::did_you_mean("wieght", {"name", "weight", "path"}), "weight");
  EXPECT_EQ(gt::did_you_mean("qqqqqq", {"name", "weight", "path"}), "");
}

TEST(DidYouMean, ThresholdGrowsWithLength) {
  // Short words allow 2 edits: "ab" -> "xy" is 2 away.
  EXPECT_EQ(gt::did_you_mean("ab", {"xy"}), "xy");
  EXPECT_EQ(gt::did_you_mean("ab", {"xyz"}), "");
  // 12 letters allow 12 / 3 = 4 edits, not 5.
  EXPECT_EQ(gt::did_you_mean("abcdefghijkl", {"abcdefghWXYZ"}), "abcdefghWXYZ");
  EXPECT_EQ(gt::did_you_mean("abcdefghijkl", {"abcdefgVWXYZ"}), "");
}

TEST(DidYouMean, FirstOnTie) {
  EXPECT_EQ(gt::did_you_mean("cat", {"bat", "hat"}), "bat");
}

TEST(XmlEscape, EveryEntity) {
  EXPECT_EQ(gt::xml_escape(""), "");
  EXPECT_EQ(gt::xml_escape("plain text"), "plain text");
  EXPECT_EQ(gt::xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(gt::xml_escape("&amp;"), "&amp;amp;");
}

TEST(Shortest, KnownValues) {
  EXPECT_EQ(gt::shortest(0.0), "0");
  EXPECT_EQ(gt::shortest(0.1), "0.1");
  EXPECT_EQ(gt::shortest(-2.5), "-2.5");
  EXPECT_EQ(gt::shortest(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(gt::shortest(1e20), "1e+20");
  EXPECT_EQ(gt::shortest(100000.0), "1e+05");  // 5 characters beat 6
  EXPECT_EQ(gt::shortest(123456.0), "123456");
  EXPECT_EQ(gt::shortest(std::numeric_limits<double>::infinity()), "inf");
}

TEST(ShortestPlain, NoExponentForCoordinates) {
  EXPECT_EQ(gt::shortest_plain(0.0), "0");
  EXPECT_EQ(gt::shortest_plain(900000.0), "900000");
  EXPECT_EQ(gt::shortest_plain(-1234.5), "-1234.5");
  EXPECT_EQ(gt::shortest_plain(0.0001), "0.0001");
  EXPECT_EQ(gt::shortest_plain(1e15), "1000000000000000");
}

TEST(ShortestPlain, ExponentOutsideTheRange) {
  EXPECT_EQ(gt::shortest_plain(0.00001), "1e-05");
  EXPECT_EQ(gt::shortest_plain(1e16), "1e+16");
  EXPECT_EQ(gt::shortest_plain(-2.5e-7), "-2.5e-07");
}

TEST(Significant, KnownValues) {
  EXPECT_EQ(gt::significant(0.125, 3), "0.125");
  EXPECT_EQ(gt::significant(0.6773929, 3), "0.677");
  EXPECT_EQ(gt::significant(1500000.0, 3), "1.5e+06");
  EXPECT_EQ(gt::significant(12.3456, 4), "12.35");
  EXPECT_EQ(gt::significant(2.0 / 3.0, 12), "0.666666666667");
  EXPECT_EQ(gt::significant(100.0, 12), "100");
}

TEST(Numbers, IndependentOfTheLocale) {
  // Only meaningful where a comma-decimal locale is installed; the C locale passes trivially.
  const char* set = std::setlocale(LC_ALL, "de_DE.UTF-8");
  EXPECT_EQ(gt::shortest(0.5), "0.5");
  EXPECT_EQ(gt::shortest_plain(1234.5), "1234.5");
  EXPECT_EQ(gt::significant(0.125, 3), "0.125");
  if (set != nullptr) std::setlocale(LC_ALL, "C");
}

TEST(Text, UpperAndLowerChangeAsciiLettersOnly) {
  EXPECT_EQ(gp::text::upper("us-wy Zstd 9_x"), "US-WY ZSTD 9_X");
  EXPECT_EQ(gp::text::lower("Wyoming LAT/Long"), "wyoming lat/long");
  // UTF-8 bytes (here 'é' = C3 A9) pass through untouched in either direction.
  EXPECT_EQ(gp::text::upper("qu\xC3\xA9" "bec"), "QU\xC3\xA9" "BEC");
  EXPECT_EQ(gp::text::lower("QU\xC3\xA9" "BEC"), "qu\xC3\xA9" "bec");
}

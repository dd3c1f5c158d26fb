// Which user `leakprobe run` expects the program to run as: mosquitto's `user` option (its
// configuration, include_dir files, the default), --output-owner, and everyone else.
#include "leakprobe/cli/run_as.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using leakprobe::cli::mosquitto_config_user;
using leakprobe::cli::owner_from_option;
using leakprobe::cli::predict_run_as;

namespace {
class RunAsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("run_as_test." + std::to_string(::getpid()));
    fs::create_directories(dir_ / "conf.d");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

// What mosquitto falls back to without a `user` line: its own user, or nobody.
std::string default_user() { return ::getpwnam("mosquitto") ? "mosquitto" : "nobody"; }
}  // namespace

TEST_F(RunAsTest, LastUserLineWins) {
  std::string error;
  const auto conf = write("m.conf",
                          "# user root\n"
                          "listener 1883\n"
                          "  user   nobody  \n"
                          "user\n"  // no value: mosquitto refuses it; it sets nothing here
                          "persistence false\n");
  EXPECT_EQ(mosquitto_config_user(conf, error), "nobody");
  EXPECT_EQ(error, "");
}

TEST_F(RunAsTest, IncludeDirFilesInNameOrderAfterTheMainFile) {
  write("conf.d/20-b.conf", "user root\n");
  write("conf.d/10-a.conf", "user nobody\n");
  write("conf.d/30-c.txt", "user daemon\n");  // not *.conf: mosquitto skips it
  std::string error;
  const auto conf =
      write("m.conf", "user daemon\ninclude_dir " + (dir_ / "conf.d").string() + "\n");
  EXPECT_EQ(mosquitto_config_user(conf, error), "root");
  EXPECT_EQ(error, "");
}

TEST_F(RunAsTest, UnreadableConfigIsAnError) {
  std::string error;
  EXPECT_EQ(mosquitto_config_user((dir_ / "missing.conf").string(), error), "");
  EXPECT_NE(error.find("cannot read"), std::string::npos) << error;
}

TEST_F(RunAsTest, MosquittoAsRootSwitchesToItsUser) {
  const auto conf = write("m.conf", "listener 1883\nuser nobody\n");
  const auto r = predict_run_as({"/usr/sbin/mosquitto", "-c", conf}, 0);
  ASSERT_TRUE(r.known);
  EXPECT_EQ(r.name, "nobody");
  EXPECT_EQ(r.uid, ::getpwnam("nobody")->pw_uid);
  EXPECT_NE(r.why.find("`user nobody` line of " + conf), std::string::npos) << r.why;
}

TEST_F(RunAsTest, MosquittoWithoutUserLineTakesTheDefault) {
  // Debian's packaged configuration has no `user` line: the broker becomes `mosquitto`.
  const auto conf = write("m.conf", "listener 1883\n");
  for (const auto& cmd : {std::vector<std::string>{"mosquitto", "-c", conf},
                          std::vector<std::string>{"mosquitto", "-d", "--config-file", conf},
                          std::vector<std::string>{"mosquitto"}}) {
    const auto r = predict_run_as(cmd, 0);
    ASSERT_TRUE(r.known);
    EXPECT_EQ(r.name, default_user());
    EXPECT_NE(r.why.find("default user"), std::string::npos) << r.why;
  }
}

TEST_F(RunAsTest, MosquittoUserRootStaysRoot) {
  const auto conf = write("m.conf", "user root\n");
  const auto r = predict_run_as({"mosquitto", "-c", conf}, 0);
  ASSERT_TRUE(r.known);
  EXPECT_EQ(r.uid, 0u);
}

TEST_F(RunAsTest, UnknownUserOrProgramIsUnknown) {
  const auto conf = write("m.conf", "user no-such-user-here\n");
  EXPECT_FALSE(predict_run_as({"mosquitto", "-c", conf}, 0).known);  // mosquitto refuses to run
  EXPECT_FALSE(predict_run_as({"my-service", "-c", conf}, 0).known);
  EXPECT_FALSE(predict_run_as({"mosquitto", "-c", (dir_ / "missing").string()}, 0).known);
}

TEST_F(RunAsTest, NotRootRunsAsItself) {
  const auto conf = write("m.conf", "user root\n");
  const auto r = predict_run_as({"mosquitto", "-c", conf}, 4321);
  ASSERT_TRUE(r.known);
  EXPECT_EQ(r.uid, 4321u);
}

TEST(OutputOwner, NameOrNumber) {
  std::string error;
  auto r = owner_from_option("nobody", error);
  EXPECT_EQ(error, "");
  EXPECT_TRUE(r.known);
  EXPECT_EQ(r.uid, ::getpwnam("nobody")->pw_uid);
  r = owner_from_option("4321", error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(r.uid, 4321u);
  r = owner_from_option("no-such-user-here", error);
  EXPECT_FALSE(r.known);
  EXPECT_NE(error.find("no user named no-such-user-here"), std::string::npos) << error;
}

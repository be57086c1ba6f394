// The SQLite results store: schema, job-level replace-in-one-transaction, resume and commit
// queries. Not here: what rows mean (report.cc, diff.cc) or where provenance comes from
// (provenance.cc).

#include "experiments/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "core/error.h"

namespace cube {
namespace {

// Additive changes keep the version: older cubes (the builds `cube diff` makes of old commits)
// must still open the store. runs.scheduler_job and runs.machine were added so; a store without
// them gains them, empty, when opened.
constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 60'000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  build_key TEXT NOT NULL,
  git_commit TEXT NOT NULL,
  git_dirty INTEGER NOT NULL,
  diff_hash TEXT NOT NULL,
  diff_patch TEXT NOT NULL,
  build_type TEXT NOT NULL,
  compiler TEXT NOT NULL,
  host TEXT NOT NULL,
  started_at TEXT NOT NULL,
  cube_version TEXT NOT NULL,
  command TEXT NOT NULL,
  scheduler_job TEXT NOT NULL DEFAULT '',
  machine TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS runs_commit ON runs(git_commit);
CREATE TABLE IF NOT EXISTS results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  build_key TEXT NOT NULL,
  cell TEXT NOT NULL,
  problem TEXT NOT NULL,
  solver TEXT NOT NULL,
  seed INTEGER NOT NULL,
  repeat INTEGER NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  deterministic INTEGER NOT NULL,
  position INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS results_one_per_key
  ON results(build_key, cell, seed, repeat, metric);
CREATE INDEX IF NOT EXISTS results_run ON results(run_id);
CREATE TABLE IF NOT EXISTS curves (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  build_key TEXT NOT NULL,
  cell TEXT NOT NULL,
  seed INTEGER NOT NULL,
  repeat INTEGER NOT NULL,
  series TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL);
CREATE UNIQUE INDEX IF NOT EXISTS curves_one_per_key
  ON curves(build_key, cell, seed, repeat, series, step);
CREATE INDEX IF NOT EXISTS curves_cell ON curves(cell);
)sql";

// Seeds are uint64; SQLite integers are int64. The bit pattern is stored (two's complement).
std::int64_t seed_to_sql(std::uint64_t seed) { return static_cast<std::int64_t>(seed); }
std::uint64_t seed_from_sql(std::int64_t seed) { return static_cast<std::uint64_t>(seed); }

[[noreturn]] void fail(sqlite3* db, const std::filesystem::path& file, const std::string& what) {
  throw StoreError("results store " + file.string() + ": " + what + ": " + sqlite3_errmsg(db));
}

// A prepared statement, finalized on scope exit. Columns and parameters are 0- and 1-based, as
// in the SQLite C API.
class Statement {
 public:
  Statement(sqlite3* db, const std::filesystem::path& file, const char* sql)
      : db_(db), file_(file) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      fail(db, file, "cannot prepare a statement");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int i, const std::string& text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::int64_t value) { sqlite3_bind_int64(stmt_, i, value); }
  void bind(int i, const std::optional<double>& value) {
    if (value)
      sqlite3_bind_double(stmt_, i, *value);  // NaN becomes NULL in SQLite: n/a either way
    else
      sqlite3_bind_null(stmt_, i);
  }

  // True when a row is available; false when done. Throws Error on failure.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, file_, "statement failed");
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string text(int column) const {
    const unsigned char* p = sqlite3_column_text(stmt_, column);
    if (p == nullptr) return "";
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::optional<double> real(int column) const {
    if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(stmt_, column);
  }

 private:
  sqlite3* db_;
  const std::filesystem::path& file_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Reads columns 0-9 of a results query (cell, problem, solver, seed, repeat, metric, value,
// status, message, deterministic) into `row`.
void read_result_columns(Statement& select, ResultRow& row) {
  row.cell = select.text(0);
  row.problem = select.text(1);
  row.solver = select.text(2);
  row.seed = seed_from_sql(select.integer(3));
  row.repeat = select.integer(4);
  row.metric = select.text(5);
  row.value = select.real(6);
  row.status = select.text(7);
  row.message = select.text(8);
  row.deterministic = select.integer(9) != 0;
}

void exec(sqlite3* db, const std::filesystem::path& file, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    throw StoreError("results store " + file.string() + ": " + message);
  }
}

// Switching to WAL needs a brief exclusive lock and may answer SQLITE_BUSY without consulting
// the busy handler when another process opens the file at the same moment: retry for a while.
void enable_wal(sqlite3* db, const std::filesystem::path& file) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  while (true) {
    int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return;
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
      fail(db, file, "cannot enable write-ahead logging");
    if (std::chrono::steady_clock::now() > deadline) fail(db, file, "busy for 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// BEGIN IMMEDIATE takes the write lock up front (waiting through the busy timeout), so a write
// transaction never has to upgrade a read lock, which in WAL mode fails at once when contended.
class WriteTransaction {
 public:
  WriteTransaction(sqlite3* db, const std::filesystem::path& file) : db_(db), file_(file) {
    exec(db, file, "BEGIN IMMEDIATE");
  }
  ~WriteTransaction() {
    if (!committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec(db_, file_, "COMMIT");
    committed_ = true;
  }

 private:
  sqlite3* db_;
  const std::filesystem::path& file_;
  bool committed_ = false;
};

using JobKey = std::tuple<std::string, std::uint64_t, std::int64_t>;  // cell, seed, repeat

}  // namespace

int status_severity(const std::string& status) {
  if (status == "ok") return 0;
  if (status == "unsupported") return 1;
  if (status == "max_iterations") return 2;
  if (status == "diverged") return 3;
  if (status == "timeout") return 5;
  if (status == "error") return 6;
  return 4;
}

std::filesystem::path ResultStore::default_path(const std::filesystem::path& work_dir) {
  std::filesystem::path root = git_toplevel(work_dir).value_or(work_dir);
  return root / ".cube" / "results.db";
}

ResultStore::ResultStore(const std::filesystem::path& file) : path_(file) {
  const SourceLocation where{file.string()};
  std::filesystem::path parent = file.parent_path();
  // Only the default folder is created: a --store path naming a folder that does not exist is
  // more likely a typo than a wish for new folders.
  if (!parent.empty() && parent.filename() != ".cube" && !std::filesystem::exists(parent))
    throw ConfigError(where, "cannot create the results store: the folder " + parent.string() +
                                 " does not exist (create it first; only the default .cube/ is "
                                 "created)");
  if (!parent.empty()) {
    std::error_code ec;
    bool created = std::filesystem::create_directories(parent, ec);
    if (ec)
      throw ConfigError(where, "cannot create the results store's directory " + parent.string() +
                                   ": " + ec.message());
    // A fresh .cube/ keeps itself out of `git add -A`, as .pytest_cache/ does.
    if (created && parent.filename() == ".cube") std::ofstream(parent / ".gitignore") << "*\n";
  }
  const std::filesystem::path folder = parent.empty() ? "." : parent;
  if (!std::filesystem::exists(file) && access(folder.c_str(), W_OK) != 0)
    throw ConfigError(where, "cannot create the results store: the folder " + folder.string() +
                                 " is not writable (" + std::strerror(errno) + ")");
  if (sqlite3_open_v2(file.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    if (db_ != nullptr && sqlite3_system_errno(db_) != 0)
      message += std::string(" (") + std::strerror(sqlite3_system_errno(db_)) + ")";
    sqlite3_close(db_);
    db_ = nullptr;
    throw ConfigError(where, "cannot open the results store: " + message);
  }

  try {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    enable_wal(db_, path_);
    // In WAL mode NORMAL loses no committed transaction on a process crash, only on power loss.
    exec(db_, path_, "PRAGMA synchronous=NORMAL");
    WriteTransaction transaction(db_, path_);
    exec(db_, path_, kSchema);
    Statement version(db_, path_, "SELECT MAX(version) FROM schema_version");
    version.step();
    std::optional<double> stored = version.real(0);
    for (const char* column : {"scheduler_job", "machine"}) {
      Statement has_column(db_, path_,
                           "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = ?");
      has_column.bind(1, std::string(column));
      has_column.step();
      if (has_column.integer(0) == 0)
        exec(db_, path_,
             ("ALTER TABLE runs ADD COLUMN " + std::string(column) + " TEXT NOT NULL DEFAULT ''")
                 .c_str());
    }
    if (!stored) {
      Statement insert(db_, path_, "INSERT INTO schema_version(version) VALUES (?)");
      insert.bind(1, std::int64_t{kSchemaVersion});
      insert.step();
    } else if (*stored > kSchemaVersion) {
      throw ConfigError(where, "results store has schema version " +
                                   std::to_string(static_cast<long long>(*stored)) +
                                   ", newer than this cube understands (" +
                                   std::to_string(kSchemaVersion) + "); use a newer cube");
    }
    transaction.commit();
  } catch (const ConfigError&) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  } catch (const std::exception& e) {
    std::string message = e.what();
    sqlite3_close(db_);
    db_ = nullptr;
    throw ConfigError(where, "cannot use the results store: " + message);
  }
}

ResultStore::~ResultStore() { sqlite3_close(db_); }

std::int64_t ResultStore::begin_run(const Provenance& p) {
  std::lock_guard lock(mutex_);
  // SQLite opens a file it may not write read-only (reading results from it works); a sweep
  // must hear so before its first job, not fail at its first row.
  if (sqlite3_db_readonly(db_, "main") == 1)
    throw ConfigError(SourceLocation{path_.string()},
                      "cannot write the results store: the file is read-only (check its "
                      "permissions, or give another --store)");
  Statement insert(db_, path_,
                   "INSERT INTO runs(build_key, git_commit, git_dirty, diff_hash, diff_patch, "
                   "build_type, compiler, host, started_at, cube_version, command, "
                   "scheduler_job, machine) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, p.build_key());
  insert.bind(2, p.git_commit);
  insert.bind(3, std::int64_t{p.git_dirty});
  insert.bind(4, p.diff_hash);
  insert.bind(5, p.diff_patch);
  insert.bind(6, p.build_type);
  insert.bind(7, p.compiler);
  insert.bind(8, p.host);
  insert.bind(9, p.started_at);
  insert.bind(10, p.cube_version);
  insert.bind(11, p.command);
  insert.bind(12, p.scheduler_job);
  insert.bind(13, p.machine);
  insert.step();
  return sqlite3_last_insert_rowid(db_);
}

std::int64_t ResultStore::merge(const std::filesystem::path& shard) {
  if (!std::filesystem::is_regular_file(shard))
    throw ConfigError(SourceLocation{shard.string()}, "cannot merge: no such results store");
  { ResultStore check(shard); }  // throws ConfigError unless it is a cube store (any version)
  std::lock_guard lock(mutex_);
  {
    Statement attach(db_, path_, "ATTACH DATABASE ? AS shard");
    attach.bind(1, shard.string());
    attach.step();
  }
  struct Detach {
    sqlite3* db;
    ~Detach() { sqlite3_exec(db, "DETACH DATABASE shard", nullptr, nullptr, nullptr); }
  } detach{db_};
  std::int64_t copied = 0;
  {
    WriteTransaction transaction(db_, path_);
    exec(db_, path_,
         "CREATE TEMP TABLE IF NOT EXISTS run_map(old INTEGER PRIMARY KEY, new INTEGER NOT NULL);"
         "DELETE FROM temp.run_map;");
    Statement runs(db_, path_,
                   "SELECT id, build_key, git_commit, git_dirty, diff_hash, diff_patch, "
                   "build_type, compiler, host, started_at, cube_version, command, "
                   "scheduler_job, machine FROM shard.runs ORDER BY id");
    Statement existing(db_, path_,
                       "SELECT id FROM main.runs WHERE build_key = ? AND host = ? AND "
                       "started_at = ? AND command = ? ORDER BY id LIMIT 1");
    Statement insert(db_, path_,
                     "INSERT INTO main.runs(build_key, git_commit, git_dirty, diff_hash, "
                     "diff_patch, build_type, compiler, host, started_at, cube_version, command, "
                     "scheduler_job, machine) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    Statement map(db_, path_, "INSERT INTO temp.run_map(old, new) VALUES (?, ?)");
    while (runs.step()) {
      existing.reset();
      existing.bind(1, runs.text(1));
      existing.bind(2, runs.text(8));
      existing.bind(3, runs.text(9));
      existing.bind(4, runs.text(11));
      std::int64_t id = 0;
      if (existing.step()) {
        id = existing.integer(0);
      } else {
        insert.reset();
        for (int column = 1; column <= 13; ++column) {
          if (column == 3)
            insert.bind(column, runs.integer(column));
          else
            insert.bind(column, runs.text(column));
        }
        insert.step();
        id = sqlite3_last_insert_rowid(db_);
      }
      map.reset();
      map.bind(1, runs.integer(0));
      map.bind(2, id);
      map.step();
    }
    exec(db_, path_,
         "DELETE FROM main.results WHERE EXISTS (SELECT 1 FROM shard.results s WHERE "
         "s.build_key = main.results.build_key AND s.cell = main.results.cell AND "
         "s.seed = main.results.seed AND s.repeat = main.results.repeat);"
         "DELETE FROM main.curves WHERE EXISTS (SELECT 1 FROM shard.results s WHERE "
         "s.build_key = main.curves.build_key AND s.cell = main.curves.cell AND "
         "s.seed = main.curves.seed AND s.repeat = main.curves.repeat);");
    exec(db_, path_,
         "INSERT INTO main.results(run_id, build_key, cell, problem, solver, seed, repeat, "
         "metric, value, status, message, deterministic, position) "
         "SELECT m.new, s.build_key, s.cell, s.problem, s.solver, s.seed, s.repeat, s.metric, "
         "s.value, s.status, s.message, s.deterministic, s.position "
         "FROM shard.results s JOIN temp.run_map m ON m.old = s.run_id ORDER BY s.id");
    copied = sqlite3_changes(db_);
    exec(db_, path_,
         "INSERT INTO main.curves(run_id, build_key, cell, seed, repeat, series, step, value) "
         "SELECT m.new, c.build_key, c.cell, c.seed, c.repeat, c.series, c.step, c.value "
         "FROM shard.curves c JOIN temp.run_map m ON m.old = c.run_id");
    transaction.commit();
  }
  return copied;
}

namespace {

// Binds the four columns that name a job, (build_key, cell, seed, repeat), to parameters 1-4.
void bind_job(Statement& statement, const std::string& build_key, const std::string& cell,
              std::uint64_t seed, std::int64_t repeat) {
  statement.bind(1, build_key);
  statement.bind(2, cell);
  statement.bind(3, seed_to_sql(seed));
  statement.bind(4, repeat);
}

}  // namespace

std::optional<std::string> ResultStore::job_status(const std::string& build_key,
                                                   const std::string& cell, std::uint64_t seed,
                                                   std::int64_t repeat) const {
  std::lock_guard lock(mutex_);
  Statement select(db_, path_,
                   "SELECT status FROM results "
                   "WHERE build_key = ? AND cell = ? AND seed = ? AND repeat = ?");
  bind_job(select, build_key, cell, seed, repeat);
  std::optional<std::string> worst;
  while (select.step()) {
    std::string status = select.text(0);
    if (!worst || status_severity(status) > status_severity(*worst)) worst = status;
  }
  return worst;
}

std::vector<std::string> ResultStore::job_machines(const std::string& build_key,
                                                   const std::string& cell, std::uint64_t seed,
                                                   std::int64_t repeat) const {
  std::lock_guard lock(mutex_);
  Statement select(db_, path_,
                   "SELECT DISTINCT COALESCE(u.machine, '') FROM results r LEFT JOIN runs u ON "
                   "u.id = r.run_id WHERE r.build_key = ? AND r.cell = ? AND r.seed = ? AND "
                   "r.repeat = ? ORDER BY 1");
  bind_job(select, build_key, cell, seed, repeat);
  std::vector<std::string> machines;
  while (select.step()) machines.push_back(select.text(0));
  return machines;
}

std::vector<ResultRow> ResultStore::job_rows(const std::string& build_key, const std::string& cell,
                                             std::uint64_t seed, std::int64_t repeat) const {
  std::lock_guard lock(mutex_);
  Statement select(db_, path_,
                   "SELECT cell, problem, solver, seed, repeat, metric, value, status, message, "
                   "deterministic FROM results "
                   "WHERE build_key = ? AND cell = ? AND seed = ? AND repeat = ? "
                   "ORDER BY position, id");
  bind_job(select, build_key, cell, seed, repeat);
  std::vector<ResultRow> rows;
  while (select.step()) {
    ResultRow row;
    read_result_columns(select, row);
    rows.push_back(std::move(row));
  }
  return rows;
}

void ResultStore::write_job(std::int64_t run_id, const std::string& build_key,
                            const std::vector<ResultRow>& rows,
                            const std::vector<CurvePoint>& curve) {
  if (rows.empty()) return;
  std::lock_guard lock(mutex_);
  WriteTransaction transaction(db_, path_);
  std::set<JobKey> jobs;
  for (const ResultRow& row : rows) jobs.emplace(row.cell, row.seed, row.repeat);
  Statement remove(db_, path_,
                   "DELETE FROM results "
                   "WHERE build_key = ? AND cell = ? AND seed = ? AND repeat = ?");
  Statement remove_curve(db_, path_,
                         "DELETE FROM curves "
                         "WHERE build_key = ? AND cell = ? AND seed = ? AND repeat = ?");
  for (const auto& [cell, seed, repeat] : jobs) {
    for (Statement* statement : {&remove, &remove_curve}) {
      statement->bind(1, build_key);
      statement->bind(2, cell);
      statement->bind(3, seed_to_sql(seed));
      statement->bind(4, repeat);
      statement->step();
      statement->reset();
    }
  }
  if (!curve.empty()) {
    CUBE_CHECK(jobs.size() == 1, "a learning curve is written with the rows of one job");
    const auto& [cell, seed, repeat] = *jobs.begin();
    Statement insert_point(db_, path_,
                           "INSERT INTO curves(run_id, build_key, cell, seed, repeat, series, "
                           "step, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (const CurvePoint& point : curve) {
      insert_point.bind(1, run_id);
      insert_point.bind(2, build_key);
      insert_point.bind(3, cell);
      insert_point.bind(4, seed_to_sql(seed));
      insert_point.bind(5, repeat);
      insert_point.bind(6, point.series);
      insert_point.bind(7, point.step);
      insert_point.bind(8, std::optional<double>(point.value));
      insert_point.step();
      insert_point.reset();
    }
  }
  Statement insert(db_, path_,
                   "INSERT INTO results(run_id, build_key, cell, problem, solver, seed, repeat, "
                   "metric, value, status, message, deterministic, position) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  std::int64_t position = 0;
  for (const ResultRow& row : rows) {
    insert.bind(1, run_id);
    insert.bind(2, build_key);
    insert.bind(3, row.cell);
    insert.bind(4, row.problem);
    insert.bind(5, row.solver);
    insert.bind(6, seed_to_sql(row.seed));
    insert.bind(7, row.repeat);
    insert.bind(8, row.metric);
    insert.bind(9, row.value);
    insert.bind(10, row.status);
    insert.bind(11, row.message);
    insert.bind(12, std::int64_t{row.deterministic});
    insert.bind(13, position++);
    try {
      insert.step();
    } catch (const StoreError& e) {
      throw StoreError(std::string(e.what()) + " (value '" + row.metric + "' of " + row.cell +
                       " seed " + std::to_string(row.seed) + " repeat " +
                       std::to_string(row.repeat) + ")");
    }
    insert.reset();
  }
  transaction.commit();
}

std::vector<std::pair<std::int64_t, StoredRow>> ResultStore::select_rows(
    const std::string& where, const std::string* bind) const {
  std::string sql =
      "SELECT r.cell, r.problem, r.solver, r.seed, r.repeat, r.metric, r.value, r.status, "
      "r.message, r.deterministic, r.run_id, COALESCE(u.git_commit, ''), "
      "COALESCE(u.git_dirty, 0), COALESCE(u.build_type, ''), COALESCE(u.started_at, ''), "
      "r.position, COALESCE(u.scheduler_job, ''), COALESCE(u.machine, '') FROM results r LEFT "
      "JOIN runs u ON u.id = r.run_id " +
      where;
  std::lock_guard lock(mutex_);
  Statement select(db_, path_, sql.c_str());
  if (bind != nullptr) select.bind(1, *bind);
  std::vector<std::pair<std::int64_t, StoredRow>> rows;
  while (select.step()) {
    StoredRow row;
    read_result_columns(select, row);
    row.run_id = select.integer(10);
    row.git_commit = select.text(11);
    row.git_dirty = select.integer(12) != 0;
    row.build_type = select.text(13);
    row.started_at = select.text(14);
    row.scheduler_job = select.text(16);
    row.machine = select.text(17);
    rows.emplace_back(select.integer(15), std::move(row));
  }
  // Sorted here rather than in SQL: seeds compare as unsigned, which SQLite cannot do.
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second.run_id, a.second.cell, a.second.seed, a.second.repeat, a.first) <
           std::tie(b.second.run_id, b.second.cell, b.second.seed, b.second.repeat, b.first);
  });
  return rows;
}

std::vector<StoredCurvePoint> ResultStore::curves(const std::string& build_key,
                                                  const std::string& cell) const {
  std::lock_guard lock(mutex_);
  // One curve per job within a build (write_job replaces it), whichever run wrote it: a resumed
  // sweep's seeds come from several runs.
  Statement select(db_, path_,
                   "SELECT seed, repeat, series, step, value FROM curves WHERE build_key = ?1 AND "
                   "cell = ?2 ORDER BY seed, repeat, series, step");
  select.bind(1, build_key);
  select.bind(2, cell);
  std::vector<StoredCurvePoint> points;
  while (select.step()) {
    StoredCurvePoint p;
    p.seed = seed_from_sql(select.integer(0));
    p.repeat = select.integer(1);
    p.series = select.text(2);
    p.step = select.integer(3);
    p.value = select.real(4).value_or(std::numeric_limits<double>::quiet_NaN());
    points.push_back(std::move(p));
  }
  return points;
}

std::vector<StoredRow> ResultStore::rows_for_commit(const std::string& commit) const {
  std::vector<std::pair<std::int64_t, StoredRow>> rows =
      select_rows("WHERE u.git_commit = ?", &commit);
  bool any_clean =
      std::any_of(rows.begin(), rows.end(), [](const auto& row) { return !row.second.git_dirty; });
  if (any_clean) std::erase_if(rows, [](const auto& row) { return row.second.git_dirty; });

  // Rows come in run order, so the last one seen per value key is the latest run's.
  using ValueKey = std::tuple<std::string, std::uint64_t, std::int64_t, std::string>;
  std::map<ValueKey, std::size_t> latest;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const StoredRow& r = rows[i].second;
    latest[{r.cell, r.seed, r.repeat, r.metric}] = i;
  }
  std::vector<std::size_t> keep;
  keep.reserve(latest.size());
  for (const auto& [key, index] : latest) keep.push_back(index);
  // Within a job, values keep the order their job inserted them (position), then run order.
  std::sort(keep.begin(), keep.end(), [&](std::size_t a, std::size_t b) {
    const auto& [pa, ra] = rows[a];
    const auto& [pb, rb] = rows[b];
    return std::tie(ra.cell, ra.seed, ra.repeat, pa, ra.run_id) <
           std::tie(rb.cell, rb.seed, rb.repeat, pb, rb.run_id);
  });
  std::vector<StoredRow> result;
  result.reserve(keep.size());
  for (std::size_t index : keep) result.push_back(std::move(rows[index].second));
  return result;
}

std::vector<StoredRow> ResultStore::all_rows() const {
  std::vector<StoredRow> rows;
  for (auto& entry : select_rows("", nullptr)) rows.push_back(std::move(entry.second));
  return rows;
}

std::int64_t ResultStore::count_rows() const {
  std::lock_guard lock(mutex_);
  Statement count(db_, path_, "SELECT COUNT(*) FROM results");
  count.step();
  return count.integer(0);
}

std::vector<std::string> ResultStore::commits() const {
  std::lock_guard lock(mutex_);
  Statement select(db_, path_,
                   "SELECT u.git_commit FROM runs u JOIN results r ON r.run_id = u.id "
                   "GROUP BY u.git_commit ORDER BY MAX(u.id) DESC");
  std::vector<std::string> commits;
  while (select.step()) commits.push_back(select.text(0));
  return commits;
}

}  // namespace cube

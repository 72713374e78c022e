#include "processors/gemini/knowledge_base.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

namespace voxpipe {
namespace {

// Words that tell nothing about what the caller wants.
const std::set<std::string, std::less<>> kStopWords = {
    "a",    "an",   "and",  "are",   "at",  "be",    "can",   "do",  "does", "for", "from", "how", "i",
    "in",   "is",   "it",   "me",    "my",  "of",    "on",    "or",  "please", "the", "to",  "what", "when",
    "where", "which", "who", "with", "you", "your", "there", "about", "get", "tell", "need", "want", "today"};

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && !kStopWords.count(word)) words.push_back(word);
    word.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '&') {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      flush();
    }
  }
  flush();
  return words;
}

// "visit" finds "visiting" and "visitors"; short words must match whole.
bool Matches(const std::string& query_word, const std::string& key) {
  if (query_word == key) return true;
  size_t shorter = std::min(query_word.size(), key.size());
  return shorter >= 4 && query_word.compare(0, shorter, key, 0, shorter) == 0;
}

void Append(std::vector<std::string>& to, const std::vector<std::string>& words) {
  to.insert(to.end(), words.begin(), words.end());
}

}  // namespace

void KnowledgeTopic::Declare(Schema<KnowledgeTopic>& s) {
  s.Field("topic", &KnowledgeTopic::topic, "What the entry is about").Required();
  s.Field("keywords", &KnowledgeTopic::keywords, "Words a caller may use for it");
  s.Field("answer", &KnowledgeTopic::answer, "The facts, as the assistant may say them").Required();
}

void KnowledgeDepartment::Declare(Schema<KnowledgeDepartment>& s) {
  s.Field("name", &KnowledgeDepartment::name, "The department's name").Required();
  s.Field("aliases", &KnowledgeDepartment::aliases, "Other names callers use");
  s.Field("location", &KnowledgeDepartment::location, "Where it is");
  s.Field("hours", &KnowledgeDepartment::hours, "When it is open");
  s.Field("extension", &KnowledgeDepartment::extension, "Its phone extension");
  s.Field("notes", &KnowledgeDepartment::notes, "Anything else a caller should know");
}

void KnowledgeFile::Declare(Schema<KnowledgeFile>& s) {
  s.Field("organisation", &KnowledgeFile::organisation, "Facts given with every answer (name, address, number)");
  s.Field("topics", &KnowledgeFile::topics, "Questions callers ask and their answers");
  s.Field("departments", &KnowledgeFile::departments, "Departments: where, when, extension");
  s.Check([](const KnowledgeFile& f) -> std::string {
    return f.topics.empty() && f.departments.empty() ? "a knowledge file needs some topics or departments" : "";
  });
}

Result<std::shared_ptr<const KnowledgeBase>> KnowledgeBase::Load(const std::string& path) {
  auto root = ConfigNode::LoadFile(path);
  if (!root.ok()) return root.status();
  auto file = Schema<KnowledgeFile>::Get().Parse(*root);
  if (!file.ok()) return file.status();
  return std::shared_ptr<const KnowledgeBase>(new KnowledgeBase(std::move(file).value()));
}

Result<std::shared_ptr<const KnowledgeBase>> KnowledgeBase::Parse(std::string_view yaml, const std::string& name) {
  auto root = ConfigNode::Parse(yaml, name);
  if (!root.ok()) return root.status();
  auto file = Schema<KnowledgeFile>::Get().Parse(*root);
  if (!file.ok()) return file.status();
  return std::shared_ptr<const KnowledgeBase>(new KnowledgeBase(std::move(file).value()));
}

KnowledgeBase::KnowledgeBase(KnowledgeFile file) : file_(std::move(file)) {
  for (const auto& t : file_.topics) {
    std::vector<std::string> keys = Words(t.topic);
    for (const auto& k : t.keywords) Append(keys, Words(k));
    keys_.push_back(std::move(keys));
    words_.push_back(Words(t.answer));
  }
  for (const auto& d : file_.departments) {
    std::vector<std::string> keys = Words(d.name);
    for (const auto& a : d.aliases) Append(keys, Words(a));
    keys_.push_back(std::move(keys));
    std::vector<std::string> words = Words(d.location);
    Append(words, Words(d.hours));
    Append(words, Words(d.notes));
    words_.push_back(std::move(words));
  }
}

nlohmann::json KnowledgeBase::Lookup(std::string_view query) const {
  std::vector<std::string> asked = Words(query.substr(0, 500));
  std::vector<std::pair<int, size_t>> scored;
  for (size_t i = 0; i < keys_.size(); ++i) {
    int score = 0;
    for (const auto& word : asked) {
      if (std::any_of(keys_[i].begin(), keys_[i].end(), [&](const std::string& k) { return Matches(word, k); })) {
        score += 3;
      } else if (std::any_of(words_[i].begin(), words_[i].end(), [&](const std::string& w) { return w == word; })) {
        score += 1;
      }
    }
    if (score >= 2) scored.emplace_back(score, i);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  nlohmann::json results = nlohmann::json::array();
  for (size_t k = 0; k < std::min(scored.size(), kMaxResults); ++k) {
    size_t i = scored[k].second;
    if (i < file_.topics.size()) {
      results.push_back({{"topic", file_.topics[i].topic}, {"answer", file_.topics[i].answer}});
      continue;
    }
    const auto& d = file_.departments[i - file_.topics.size()];
    nlohmann::json entry = {{"department", d.name}};
    if (!d.location.empty()) entry["location"] = d.location;
    if (!d.hours.empty()) entry["hours"] = d.hours;
    if (!d.extension.empty()) entry["extension"] = d.extension;
    if (!d.notes.empty()) entry["notes"] = d.notes;
    results.push_back(std::move(entry));
  }
  nlohmann::json out = {{"results", std::move(results)}, {"organisation", file_.organisation}};
  if (out["results"].empty()) {
    out["note"] = "Nothing in the information on file matches. Do not guess: say so, and offer to take a message "
                  "so that someone calls back.";
  }
  return out;
}

}  // namespace voxpipe

#include <kengine/core/graph.hpp>

#include <algorithm>
#include <functional>
#include <queue>
#include <set>

#include <kengine/core/error.hpp>

namespace kengine::core {

size_t Graph::intern(const std::string& node) {
    const auto [it, inserted] = m_index.try_emplace(node, m_names.size());
    if (inserted) {
        m_names.push_back(&it->first);  // unordered_map keys are stable across rehashing
        m_deps.emplace_back();
        m_rdeps.emplace_back();
    }
    return it->second;
}

void Graph::add_node(const std::string& node) { (void)intern(node); }

void Graph::add_edge(const std::string& from, const std::string& to) {
    const size_t f = intern(from);
    const size_t t = intern(to);
    auto& deps = m_deps[f];
    if (std::find(deps.begin(), deps.end(), t) != deps.end()) return;
    deps.push_back(t);
    m_rdeps[t].push_back(f);
}

std::vector<std::string> Graph::names_of(const std::vector<size_t>& nodes) const {
    std::vector<std::string> out;
    out.reserve(nodes.size());
    for (const size_t n : nodes) out.push_back(*m_names[n]);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> Graph::dependencies(const std::string& node) const {
    const auto it = m_index.find(node);
    return it == m_index.end() ? std::vector<std::string>{} : names_of(m_deps[it->second]);
}

std::vector<std::string> Graph::dependents(const std::string& node) const {
    const auto it = m_index.find(node);
    return it == m_index.end() ? std::vector<std::string>{} : names_of(m_rdeps[it->second]);
}

std::vector<std::string> Graph::find_cycle() const {
    // Depth-first search with an explicit stack (chains of 100k nodes would overflow recursion).
    enum Color : unsigned char { white, grey, black };
    const size_t n = m_names.size();
    std::vector<Color> color(n, white);
    // Visit in address order so that the cycle reported is deterministic.
    std::vector<size_t> starts(n);
    for (size_t i = 0; i < n; ++i) starts[i] = i;
    std::sort(starts.begin(), starts.end(), [&](size_t a, size_t b) { return *m_names[a] < *m_names[b]; });
    for (const size_t start : starts) {
        if (color[start] != white) continue;
        std::vector<std::pair<size_t, size_t>> stack;  // node, next edge to follow
        color[start] = grey;
        stack.emplace_back(start, 0);
        while (!stack.empty()) {
            auto& [node, edge] = stack.back();
            if (edge == m_deps[node].size()) {
                color[node] = black;
                stack.pop_back();
                continue;
            }
            const size_t next = m_deps[node][edge++];
            if (color[next] == grey) {
                std::vector<std::string> cycle;
                bool on = false;
                for (const auto& [s, _] : stack) {
                    if (s == next) on = true;
                    if (on) cycle.push_back(*m_names[s]);
                }
                cycle.push_back(*m_names[next]);
                return cycle;
            }
            if (color[next] == white) {
                color[next] = grey;
                stack.emplace_back(next, 0);
            }
        }
    }
    return {};
}

std::vector<std::string> Graph::topological_order() const {
    const size_t n = m_names.size();
    // rank: position in address order, so that a min-heap of ranks yields the smallest address.
    std::vector<size_t> by_rank(n);
    for (size_t i = 0; i < n; ++i) by_rank[i] = i;
    std::sort(by_rank.begin(), by_rank.end(), [&](size_t a, size_t b) { return *m_names[a] < *m_names[b]; });
    std::vector<size_t> rank(n);
    for (size_t r = 0; r < n; ++r) rank[by_rank[r]] = r;

    std::vector<size_t> pending(n);
    std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;  // ranks
    for (size_t i = 0; i < n; ++i) {
        pending[i] = m_deps[i].size();
        if (pending[i] == 0) ready.push(rank[i]);
    }
    std::vector<std::string> order;
    order.reserve(n);
    while (!ready.empty()) {
        const size_t node = by_rank[ready.top()];
        ready.pop();
        order.push_back(*m_names[node]);
        for (const size_t d : m_rdeps[node])
            if (--pending[d] == 0) ready.push(rank[d]);
    }
    if (order.size() != n) {
        const auto cycle = find_cycle();
        std::string text;
        for (size_t i = 0; i < cycle.size(); ++i) text += (i ? " -> " : "") + cycle[i];
        throw ConfigError("dependency cycle: " + text);
    }
    return order;
}

Graph build_graph(const std::vector<ResourceSpec>& specs) { return build_graph(specs, nullptr); }

Graph build_graph(const std::vector<ResourceSpec>& specs, const std::function<void(const ResourceSpec&, const Json&)>& visit) {
    Graph g;
    for (const auto& s : specs) g.add_node(s.address());
    for (const auto& s : specs) {
        const auto addr = s.address();
        const Json props = s.props.json();
        auto deps = referenced_addresses(props);
        deps.insert(s.depends_on.begin(), s.depends_on.end());
        for (const auto& d : deps) {
            if (!g.contains(d)) throw ConfigError(addr + ": refers to " + d + ", which the profile does not declare");
            g.add_edge(addr, d);
        }
        if (visit) visit(s, props);
    }
    return g;
}

}  // namespace kengine::core

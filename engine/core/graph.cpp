#include <kengine/core/graph.hpp>

#include <algorithm>
#include <functional>

#include <kengine/core/error.hpp>

namespace kengine::core {

namespace {
const std::set<std::string> k_empty;
}

void Graph::add_node(const std::string& node) {
    m_deps[node];
    m_rdeps[node];
}

void Graph::add_edge(const std::string& from, const std::string& to) {
    add_node(from);
    add_node(to);
    m_deps[from].insert(to);
    m_rdeps[to].insert(from);
}

const std::set<std::string>& Graph::dependencies(const std::string& node) const {
    const auto it = m_deps.find(node);
    return it == m_deps.end() ? k_empty : it->second;
}

const std::set<std::string>& Graph::dependents(const std::string& node) const {
    const auto it = m_rdeps.find(node);
    return it == m_rdeps.end() ? k_empty : it->second;
}

std::vector<std::string> Graph::find_cycle() const {
    // Iterative-free DFS is fine for our sizes; recursion depth bounded by chain length, so
    // use an explicit stack to survive 100k-long chains.
    enum Color { white, grey, black };
    std::map<std::string, Color> color;
    std::map<std::string, std::string> parent;
    for (const auto& [start, _] : m_deps) {
        if (color[start] != white) continue;
        std::vector<std::pair<std::string, std::set<std::string>::const_iterator>> stack;
        color[start] = grey;
        stack.emplace_back(start, m_deps.at(start).begin());
        while (!stack.empty()) {
            auto& [node, it] = stack.back();
            if (it == m_deps.at(node).end()) {
                color[node] = black;
                stack.pop_back();
                continue;
            }
            const std::string next = *it;
            ++it;
            if (color[next] == grey) {
                std::vector<std::string> cycle;
                bool on = false;
                for (const auto& [n, _it] : stack) {
                    if (n == next) on = true;
                    if (on) cycle.push_back(n);
                }
                cycle.push_back(next);
                return cycle;
            }
            if (color[next] == white) {
                color[next] = grey;
                stack.emplace_back(next, m_deps.at(next).begin());
            }
        }
    }
    return {};
}

std::vector<std::string> Graph::topological_order() const {
    std::map<std::string, size_t> pending;
    std::set<std::string> ready;
    for (const auto& [node, deps] : m_deps) {
        pending[node] = deps.size();
        if (deps.empty()) ready.insert(node);
    }
    std::vector<std::string> order;
    order.reserve(m_deps.size());
    while (!ready.empty()) {
        const std::string node = *ready.begin();
        ready.erase(ready.begin());
        order.push_back(node);
        for (const auto& d : m_rdeps.at(node))
            if (--pending[d] == 0) ready.insert(d);
    }
    if (order.size() != m_deps.size()) {
        const auto cycle = find_cycle();
        std::string text;
        for (size_t i = 0; i < cycle.size(); ++i) text += (i ? " -> " : "") + cycle[i];
        throw ConfigError("dependency cycle: " + text);
    }
    return order;
}

Graph build_graph(const std::vector<ResourceSpec>& specs) {
    Graph g;
    std::set<std::string> known;
    for (const auto& s : specs) known.insert(s.address());
    for (const auto& s : specs) {
        const auto addr = s.address();
        g.add_node(addr);
        auto deps = referenced_addresses(s.props);
        deps.insert(s.depends_on.begin(), s.depends_on.end());
        for (const auto& d : deps) {
            if (!known.count(d))
                throw ConfigError(addr + ": refers to " + d + ", which the profile does not declare");
            g.add_edge(addr, d);
        }
    }
    return g;
}

}  // namespace kengine::core

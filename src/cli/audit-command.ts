import Table from "cli-table3";
import type { Command } from "commander";
import { listAudit } from "../../indexer/lifecycle/audit.js";
import { lifecycleConfigFrom, withLifecycle } from "./lifecycle-session.js";
import { tableStyle } from "./output.js";

/** `ragops audit`: one page of the audit log, and the cursor of the next. */
export function addAuditCommand(program: Command): void {
  program
    .command("audit")
    .description("The audit log: who created, built, swapped, rolled back or retired what, and when.")
    .option("-n, --limit <n>", "entries per page (default 50)", Number)
    .option("--after <cursor>", "continue after this cursor (printed at the end of a page)")
    .action(async (options: { limit?: number; after?: string }, command: Command) => {
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        const page = await listAudit(deps.store, { limit: options.limit ?? 50, ...(options.after ? { after: options.after } : {}) });
        const table = new Table({ head: ["when", "who", "action", "version", "from → to", "reason"], style: tableStyle() });
        for (const e of page.entries) table.push([e.at.slice(0, 19), e.actor, e.action, e.version ?? "", e.from !== undefined || e.to ? `${e.from ?? "-"} → ${e.to ?? "-"}` : "", e.reason ?? ""]);
        console.log(table.toString());
        if (page.next) console.log(`more: ragops audit --after ${page.next}`);
      });
    });
}

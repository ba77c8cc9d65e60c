// The builtin tasks' names, apart from their generators (tasks.ts) so that the CLI's option
// definitions and the config schema can name them without loading the generators at start-up.
export type TaskName = 'addition' | 'sort' | 'reverse';
export const TASK_NAMES: readonly TaskName[] = ['addition', 'sort', 'reverse'];

// The config keys a resumed run may change (anything else must match the checkpoint's config, or
// the resume is refused). Its own file, with no imports, so `train --help` can list them cheaply.
export const RESUME_MAY_CHANGE: readonly string[] = [
  'name',
  'step_scheduler.max_steps',
  'step_scheduler.num_epochs',
  'step_scheduler.ckpt_every_steps',
  'step_scheduler.val_every_steps',
  'step_scheduler.log_every_steps',
  'checkpoint.enabled',
  'checkpoint.save_dtype',
  'checkpoint.keep_last',
  'logging.metrics_file',
  'logging.plot',
  'logging.plot_file',
  'logging.plot_log_y',
  'distributed.activation_checkpointing', // changes no gradient bit
];

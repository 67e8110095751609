// The training_log.json a bundled model folder ships (written by models/train/train.py): one entry
// per optimiser step with the loss, exact match and per-position / per-subtask losses.

/** One entry of training_log.json's `log` array. */
export interface TrainingLogEntry {
	step: number;
	loss: number;
	exact?: number;
	heldout_exact?: number;
	pos_loss?: readonly (number | null)[];
	pos_acc?: readonly (number | null)[];
	subtask_loss?: Readonly<Record<string, number | null>>;
}

export interface TrainingLog {
	log: readonly TrainingLogEntry[];
	subtasks?: readonly string[] | null;
}

/** The logged fields a training curve can show. */
export type TrainingLogField = 'loss' | 'exact' | 'heldout_exact' | 'pos_loss' | 'pos_acc' | 'subtask_loss';

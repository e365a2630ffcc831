package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/iaasbench/iaasbench/maconfig"
)

var scenariosImportHelp = help{
	usage: "scenarios import --model-analyzer CONFIG.yaml [flags]",
	about: `Converts a Model Analyzer profile config into a scenario: profile_models
(one model), constraints and objectives, parameters (concurrency,
request_rate, batch_sizes), model_config_parameters (swept as the
model_config dimension), run_config_search_* ranges and the
perf_analyzer_flags that have a measure setting. The scenario goes to
stdout (or --out); every field not converted is listed on stderr by name
and line, with the reason. See docs/model-analyzer.md.`,
	examples: []string{
		"iaasbench scenarios import --model-analyzer ma.yaml > mlp.yaml",
		"iaasbench scenarios import --model-analyzer ma.yaml --model resnet --target remote --out resnet.yaml",
		"iaasbench scenarios import --model-analyzer ma.yaml --target embedded --emulated-gpu-profile h200-mlp --out mlp.yaml",
	},
}

func runScenariosImport(args []string, out, errOut io.Writer) error {
	fs := newCmdFlags("scenarios import", scenariosImportHelp)
	file := fs.String("model-analyzer", "", "the Model Analyzer profile config (YAML) to convert")
	model := fs.String("model", "", "which of profile_models to convert (needed when it lists several)")
	target := fs.String("target", "", "target kind of the scenario: embedded, remote or local (default: from triton_launch_mode)")
	profile := fs.String("emulated-gpu-profile", "", "with --target embedded: give the embedded server one emulated GPU following this device profile (e.g. h200-mlp)")
	dest := fs.String("out", "", "write the scenario here instead of stdout")
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("need --model-analyzer CONFIG.yaml (-h for help)")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	res, err := maconfig.Convert(data, *file, maconfig.Options{Model: *model, Target: *target, EmulatedGPUProfile: *profile})
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(errOut, "%s:%d: not converted: %s: %s\n", *file, s.Line, s.Field, s.Why)
	}
	if *dest == "" {
		_, err = out.Write(res.YAML)
		return err
	}
	if err := os.WriteFile(*dest, res.YAML, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(errOut, "wrote %s (model %s; %d fields not converted)\n", *dest, res.Model, len(res.Skipped))
	return nil
}

return KfuncForge.Cli.Cli.Run(args, Console.Out, Console.Error);

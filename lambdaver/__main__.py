from lambdaver.cli.main import main

main()

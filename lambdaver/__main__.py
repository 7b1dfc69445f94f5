from lambdaver.entry import main

main()
